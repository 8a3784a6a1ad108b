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
from gateway.errors import ConfigError, PermanentTransportError, TransportError
from gateway.pipeline.as2_outbound import send_as2
from gateway.pipeline.context import Pipeline
from gateway.pipeline.retry import retry_delay
from gateway.transports import Outgoing


def send(pipeline: Pipeline) -> int:
    """Send every queued or staged outbound exchange; returns how many were sent."""
    sent = 0
    for exchange in pipeline.claimed(states=["queued", "staged"]):
        partner = pipeline.config.partner(exchange.partner)
        if partner.transport == "as2":
            # AS2 is a message exchange with receipts, not a file drop: its own steps.
            try:
                sent += send_as2(pipeline, exchange, partner)
            except ConfigError as exc:
                pipeline.unreachable[partner.name] = str(exc)
                # An expired partner certificate, a key that cannot be loaded: nothing is
                # sent with it, the row waits, and an operator is told (reliability.md T10).
                with pipeline.store.transaction() as tx:
                    tx.event(exchange.id, "send_failed", reason=str(exc), permanent=True)
                    tx.raise_alert(key=f"as2_configuration:{partner.name}",
                                   kind="as2_configuration", partner=partner.name,
                                   subject=f"{partner.name}: AS2 cannot send", detail=str(exc))
                    tx.back_off(exchange.id, retry_delay(exchange.attempts))
            continue
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
            # Retried with exponential backoff (30 s, 1 min, 2 min... at most an hour); a
            # permanent failure (host key, authentication) waits just as long, so that a
            # fixed configuration resumes by itself, and the event tells which it was.
            delay = retry_delay(exchange.attempts)
            with pipeline.store.transaction() as tx:
                tx.event(exchange.id, "send_failed", reason=str(exc), retry_in=delay,
                         permanent=isinstance(exc, PermanentTransportError))  # fmt: skip
                tx.back_off(exchange.id, delay)
            continue
        with pipeline.store.transaction() as tx:
            tx.set_state(exchange.id, "sent")
            reference = receipt.reference if receipt else "published before a restart"
            tx.event(exchange.id, "interchange_sent", transport=transport.name,
                     reference=reference)  # fmt: skip
        sent += 1
    return sent
