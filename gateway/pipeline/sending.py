"""Sending queued outbound interchanges through each partner's transport, exactly once.

An outbound exchange goes ``queued`` -> ``staged`` -> ``sent``, each step committed:
the transport stages the bytes invisibly (``stage``), the row is marked, the transport
makes them visible (``publish``), the row is marked with the receipt. After a crash,
a ``queued`` row is staged again; a ``staged`` row is published, and when the transport
has nothing staged any more the file was published already: the row is only marked
(reliability.md G2; T3 O3-O6).
"""

from __future__ import annotations

from gateway.crashpoints import crashpoint
from gateway.errors import TransportError
from gateway.pipeline.context import Pipeline
from gateway.transports import Outgoing


def send(pipeline: Pipeline) -> int:
    """Send every queued or staged outbound exchange; returns how many were sent."""
    sent = 0
    for exchange in pipeline.claimed(states=["queued", "staged"]):
        partner = pipeline.config.partner(exchange.partner)
        transport = pipeline.transport(partner)
        try:
            if exchange.state == "queued":
                with pipeline.store.transaction() as tx:
                    data = tx.payload(exchange.id)
                transport.stage(Outgoing(exchange.file_name, data, {"partner": partner.name}))
                crashpoint("send.staged")
                with pipeline.store.transaction() as tx:
                    tx.set_state(exchange.id, "staged", release=False)
                crashpoint("send.marked_staged")
            receipt = transport.publish(exchange.file_name)
            crashpoint("send.published")
        except (OSError, TransportError) as exc:
            with pipeline.store.transaction() as tx:
                tx.event(exchange.id, "send_failed", reason=str(exc))
                tx.release(exchange.id)
            continue
        with pipeline.store.transaction() as tx:
            tx.set_state(exchange.id, "sent")
            reference = receipt.reference if receipt else "published before a restart"
            tx.event(exchange.id, "interchange_sent", transport=transport.name,
                     reference=reference)  # fmt: skip
        sent += 1
    return sent
