"""Sending queued outbound interchanges through each partner's transport, exactly once.

A transfer that fails is tried again with backoff; after ``gateway.max_send_attempts`` tries
(AS2: the partnership's ``max_attempts``) the exchange is ``failed`` with a ``send_failed``
alert, which clears if it is re-queued and sent after all.

An outbound exchange goes ``queued`` -> ``staged`` -> ``sent``, each step committed:
the transport stages the bytes invisibly (``stage``), the row is marked, the transport
makes them visible (``publish``), the row is marked with the receipt. After a crash,
a ``queued`` row is staged again; a ``staged`` row is published, and when the transport
has nothing staged any more the file was published already: the row is only marked
(reliability.md G2; T3 O3-O6).
"""

from __future__ import annotations

from gateway.crashpoints import crashpoint
from gateway.errors import (
    ConfigError,
    FileConflictError,
    PermanentTransportError,
    TransportError,
    UnsafeNameError,
)
from gateway.pipeline.alerts import raise_send_failed, send_failed_key
from gateway.pipeline.as2_outbound import send_as2
from gateway.pipeline.context import Pipeline
from gateway.pipeline.retry import retry_delay
from gateway.transports import Outgoing


def send(pipeline: Pipeline) -> int:
    """Send every queued or staged outbound exchange; returns how many were sent."""
    sent = 0
    configured: set[str] = set()  # AS2 partners whose configuration served in this call
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
            if partner.name not in configured:  # it served: a configuration alert clears
                configured.add(partner.name)
                with pipeline.store.transaction() as tx:
                    tx.clear_alert(f"as2_configuration:{partner.name}")
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
            pipeline.unreachable.pop(partner.name, None)  # it answered
        except (OSError, TransportError) as exc:
            if not isinstance(exc, (FileConflictError, UnsafeNameError)):
                pipeline.unreachable[partner.name] = str(exc)  # not about this one file
            # Retried with exponential backoff (30 s, 1 min, 2 min... at most an hour); a
            # permanent failure (host key, authentication) waits just as long, so that a
            # fixed configuration resumes by itself, and the event tells which it was.
            # Either counts as a try: after ``max_send_attempts`` the exchange fails with
            # an alert (reliability.md 2: terminal ``failed`` plus alert, never silent).
            permanent = isinstance(exc, PermanentTransportError)
            tries = pipeline.config.gateway.max_send_attempts
            with pipeline.store.transaction() as tx:
                if exchange.attempts >= tries:
                    reason = f"{exc} (after {exchange.attempts} tries)"
                    tx.set_state(exchange.id, "failed", reason=reason[:2000])
                    tx.set_envelope_status(exchange.id, "failed")
                    tx.event(exchange.id, "send_failed", reason=str(exc)[:500], final=True,
                             permanent=permanent, attempt=exchange.attempts)  # fmt: skip
                    raise_send_failed(tx, exchange, partner.name, reason)
                    continue
                delay = retry_delay(exchange.attempts)
                tx.event(exchange.id, "send_failed", reason=str(exc), retry_in=delay,
                         permanent=permanent, attempt=exchange.attempts)  # fmt: skip
                tx.back_off(exchange.id, delay)
            continue
        with pipeline.store.transaction() as tx:
            tx.set_state(exchange.id, "sent")
            tx.set_envelope_status(exchange.id, "sent")
            reference = receipt.reference if receipt else "published before a restart"
            tx.event(exchange.id, "interchange_sent", transport=transport.name,
                     reference=reference)  # fmt: skip
            tx.clear_alert(send_failed_key(exchange.id))  # sent after all (re-queued)
        sent += 1
    return sent
