"""Sending over AS2 (RFC 4130) with MDN and MIC verification, exactly once.

An outbound exchange to an AS2 partner goes ``queued`` -> ``staged`` -> ``sent`` (or
``awaiting_mdn`` -> ``sent`` with an asynchronous MDN), or ``failed`` with an alert:

* **Build once.** The first step builds the message (sign, encrypt, optionally compress;
  a new Message-ID) and commits its exact bytes and the MIC we expect back with the move to
  ``staged``. Every later try posts those bytes under that Message-ID (RFC 4130 5.5;
  reliability.md T3 O7: a retry that built a new Message-ID would be a second message).
* **Post and verify.** A synchronous MDN is read at once: its signature checked against the
  partner's certificates, its Original-Message-ID and its Received-Content-MIC compared with
  ours, its disposition read. ``processed`` with our MIC: ``sent``, the MDN kept as evidence
  (G5). An error disposition or another MIC: ``failed`` and an alert (reliability.md 1.1
  policy: never counted as delivered). No answer, an HTTP error or an MDN that cannot be
  read: tried again with backoff; after ``max_attempts`` tries ``failed`` and an alert.
* **Asynchronous MDN.** The POST's 2xx moves the exchange to ``awaiting_mdn``; the MDN comes
  to ``POST /as2/mdn`` (:func:`accept_mdn`). With none after ``async_mdn_wait_minutes`` the
  same bytes are posted again (:func:`resend_unacknowledged`).

Crash points: ``as2.built`` (O2/O3), ``as2.posted`` (O7), ``as2.mdn_read`` (O8).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from gateway.config import Partner
from gateway.crashpoints import crashpoint
from gateway.errors import AcornError, TransportError
from gateway.pipeline.alerts import raise_send_failed, send_failed_key
from gateway.pipeline.as2_inbound import Answer, dedupe_key
from gateway.pipeline.context import Pipeline
from gateway.pipeline.retry import retry_delay
from gateway.store import As2MessageRecord, ExchangeRecord, Repository
from gateway.transports.as2 import cms
from gateway.transports.as2.certificates import fingerprint
from gateway.transports.as2.client import HttpAnswer, post
from gateway.transports.as2.mdn import MdnError, ReceivedMdn, read_mdn
from gateway.transports.as2.message import build_message
from gateway.transports.as2.mic import Mic
from gateway.transports.as2.mime import entity_with_headers


def send_as2(pipeline: Pipeline, exchange: ExchangeRecord, partner: Partner) -> bool:
    """Send one claimed outbound exchange (``queued`` or ``staged``) to an AS2 partner;
    True when it reached ``sent``."""
    if exchange.state == "queued":
        _build(pipeline, exchange, partner)
        crashpoint("as2.built")
    settings = pipeline.as2_partner(partner).settings
    with pipeline.store.transaction() as tx:
        message = tx.as2_of_exchange(exchange.id, "out")
        assert message is not None  # built above or before a restart
        body = tx.as2_body(message.id) or b""
        tx.update_as2_message(message.id, attempts_plus=1, status="posting")
    try:
        answer = post(settings.url, tuple(message.headers.items()), body,
                      connect_timeout=settings.connect_timeout,
                      read_timeout=settings.read_timeout)  # fmt: skip
    except TransportError as exc:
        pipeline.unreachable[partner.name] = str(exc)  # `acorn process` exits 3
        return _try_again(pipeline, exchange, partner, message, str(exc))
    crashpoint("as2.posted")
    pipeline.unreachable.pop(partner.name, None)  # it answered
    if not 200 <= answer.status < 300:
        reason = f"HTTP {answer.status}: {answer.body[:200].decode('utf-8', 'replace')}"
        return _try_again(pipeline, exchange, partner, message, reason)
    if settings.mdn == "none":
        return _finish(pipeline, exchange, message, None, b"")
    if settings.mdn == "async":
        with pipeline.store.transaction() as tx:
            wait = timedelta(minutes=settings.async_mdn_wait_minutes)
            tx.update_as2_message(message.id, status="awaiting_mdn",
                                  next_attempt_at=pipeline.now() + wait)  # fmt: skip
            tx.set_state(exchange.id, "awaiting_mdn")
            tx.event(exchange.id, "as2_posted", message_id=message.message_id[:200],
                     mdn="async")  # fmt: skip
        return False
    try:
        mdn = _read(pipeline, partner, answer.headers.get("content-type", ""), answer.body)
    except (MdnError, cms.CmsError) as exc:
        return _try_again(pipeline, exchange, partner, message, f"MDN unusable: {exc}")
    crashpoint("as2.mdn_read")
    return _finish(pipeline, exchange, message, mdn, _raw(answer))


def _build(pipeline: Pipeline, exchange: ExchangeRecord, partner: Partner) -> None:
    """Build the message once and commit it with the move to ``staged``."""
    station, their = pipeline.as2_station(), pipeline.as2_partner(partner)
    settings = their.settings
    with pipeline.store.transaction() as tx:
        payload = tx.payload(exchange.id)
    built = build_message(
        payload, filename=exchange.file_name, our_id=station.as2_id,
        partner_id=settings.as2_id, signer=station.signer, signature=settings.signature,
        recipient=their.encryption_certificate(pipeline.now()) if settings.encryption else None,
        encryption=settings.encryption, key_encryption=settings.key_encryption,
        compress=settings.compress, content_type=settings.content_type, mdn=settings.mdn,
        mdn_signed=settings.mdn_signed, mdn_digest=settings.mdn_digest,
        mdn_url=station.mdn_url, mdn_to=station.as2_id, subject=exchange.file_name,
    )  # fmt: skip
    with pipeline.store.transaction() as tx:
        tx.add_as2_message(
            direction="out", partner=partner.name, message_id=built.message_id,
            as2_from=station.as2_id, as2_to=settings.as2_id,
            dedupe_key=dedupe_key("out", station.as2_id, settings.as2_id, built.message_id),
            exchange_id=exchange.id, status="built", headers=dict(built.headers),
            body=built.body, body_sha256=None, mic=str(built.mic), mdn_mode=settings.mdn,
        )  # fmt: skip
        tx.set_state(exchange.id, "staged", release=False, owner=pipeline.owner,
                     expected=["queued"])  # fmt: skip
        tx.event(exchange.id, "as2_built", message_id=built.message_id[:200],
                 mic=str(built.mic))  # fmt: skip


def _read(pipeline: Pipeline, partner: Partner, content_type: str, body: bytes) -> ReceivedMdn:
    their = pipeline.as2_partner(partner)
    return read_mdn(content_type, body, trusted=their.certificates, now=pipeline.now(),
                    require_signed=their.settings.mdn_signed,
                    allowed_digests=their.settings.accepted_digests)  # fmt: skip


def _raw(answer: HttpAnswer) -> bytes:
    """An MDN as evidence: its headers, a blank line, its exact body."""
    kept = [(k, v) for k, v in answer.headers.items() if k.startswith(("as2-", "content-",
                                                                        "message-id", "mime-"))]
    return entity_with_headers(kept, answer.body).raw


def _problem(message: As2MessageRecord, mdn: ReceivedMdn | None) -> str | None:
    """Why an MDN does not prove delivery of ``message``, or None when it does."""
    if mdn is None:
        return None
    if mdn.original_message_id.strip() != message.message_id.strip():
        return (f"MDN is about {mdn.original_message_id[:100]!r}, "
                f"not {message.message_id[:100]!r}")  # fmt: skip
    if not mdn.disposition.ok:
        return f"partner's disposition: {mdn.disposition.status}/{mdn.disposition.modifier}"
    ours = Mic.parse(message.mic) if message.mic else None
    if ours is not None and (mdn.mic is None or not ours.matches(mdn.mic)):
        # reliability.md 1.1: a MIC that differs is not a receipt (not delivered + alert).
        return f"Received-Content-MIC {mdn.mic} differs from ours {ours}"
    return None


def _finish(
    pipeline: Pipeline, exchange: ExchangeRecord, message: As2MessageRecord,
    mdn: ReceivedMdn | None, raw: bytes,
) -> bool:  # fmt: skip
    """Record the outcome of an MDN (or of a POST that wanted none)."""
    problem = _problem(message, mdn)
    with pipeline.store.transaction() as tx:
        values: dict[str, object] = {"next_attempt_at": None}
        if mdn is not None:
            values.update(mdn=raw, disposition=str(mdn.disposition),
                          certificate=fingerprint(mdn.signer) if mdn.signer else None)  # fmt: skip
        if problem is None:
            tx.update_as2_message(message.id, status="delivered", **values)
            tx.set_state(exchange.id, "sent")
            tx.set_envelope_status(exchange.id, "sent")
            tx.event(exchange.id, "interchange_sent", transport="as2",
                     reference=message.message_id[:200],
                     mdn=str(mdn.disposition) if mdn else "none")  # fmt: skip
            tx.clear_alert(send_failed_key(exchange.id))
            return True
        tx.update_as2_message(message.id, status="failed", reason=problem[:2000], **values)
        _fail(tx, exchange, message.partner, problem)
    return False


def _fail(tx: Repository, exchange: ExchangeRecord, partner: str | None, reason: str) -> None:
    tx.set_state(exchange.id, "failed", reason=reason[:2000])
    tx.set_envelope_status(exchange.id, "failed")
    tx.event(exchange.id, "send_failed", reason=reason[:500], final=True)
    raise_send_failed(tx, exchange, partner, reason)


def _try_again(
    pipeline: Pipeline, exchange: ExchangeRecord, partner: Partner,
    message: As2MessageRecord, reason: str,
) -> bool:  # fmt: skip
    """A try that failed: back off, or fail for good after ``max_attempts`` tries."""
    settings = pipeline.as2_partner(partner).settings
    attempts = message.attempts + 1  # the record was read before this try was counted
    with pipeline.store.transaction() as tx:
        tx.update_as2_message(message.id, status="built", reason=reason[:2000])
        if attempts >= settings.max_attempts:
            _fail(tx, exchange, partner.name, f"{reason} (after {attempts} tries)")
            return False
        delay = retry_delay(attempts)
        tx.event(exchange.id, "send_failed", reason=reason[:500], retry_in=delay,
                 attempt=attempts)  # fmt: skip
        tx.back_off(exchange.id, delay)
    return False


def accept_mdn(pipeline: Pipeline, headers: Mapping[str, str], body: bytes) -> Answer:
    """``POST /as2/mdn``: an asynchronous MDN for a message we sent (RFC 4130 7.3). The
    sender is found by AS2-From, the message by Original-Message-ID; the MDN is verified
    like a synchronous one. 400 when it cannot be read or matched; 200 when recorded (also
    when it repeats one already recorded)."""
    as2_from = headers.get("as2-from", "").strip().strip('"')
    partner = next((p for p in pipeline.config.partners
                    if p.as2 is not None and p.as2.as2_id == as2_from), None)  # fmt: skip
    if partner is None:
        return Answer(403, (("Content-Type", "text/plain"),), b"unknown AS2-From\n")
    try:
        mdn = _read(pipeline, partner, headers.get("content-type", ""), body)
    except (MdnError, cms.CmsError, TransportError, ValueError) as exc:
        return Answer(400, (("Content-Type", "text/plain"),),
                      f"MDN refused: {exc}\n".encode("utf-8", "replace"))  # fmt: skip
    with pipeline.store.transaction() as tx:
        found = [m for m in tx.as2_messages(direction="out",
                                            message_id=mdn.original_message_id.strip())
                 if m.partner == partner.name]  # fmt: skip
        if not found or found[-1].exchange_id is None:
            return Answer(400, (("Content-Type", "text/plain"),), b"no such message of ours\n")
        message = found[-1]
        exchange = tx.exchange(message.exchange_id)  # type: ignore[arg-type]
        latest = tx.as2_of_exchange(exchange.id, "out")
    if exchange.state in ("sent", "failed") or (latest is not None and latest.id != message.id):
        # Recorded already, or about a message that an operator's resend (a new message,
        # a new Message-ID: acorn tx resend) replaced: it says nothing of the one in flight.
        return Answer(200)
    raw = entity_with_headers([("Content-Type", headers.get("content-type", ""))], body).raw
    try:
        _finish(pipeline, exchange, message, mdn, raw)
    except AcornError as exc:
        return Answer(500, (("Content-Type", "text/plain"),), f"{exc}\n".encode())
    return Answer(200)


def resend_unacknowledged(pipeline: Pipeline) -> int:
    """Exchanges ``awaiting_mdn`` whose wait passed go back to ``staged``: the same bytes
    are posted again (T14); the attempts count, so ``max_attempts`` still ends it. Returns
    how many."""
    moved = 0
    now = pipeline.now()
    with pipeline.store.transaction() as tx:
        for exchange in tx.exchanges(states=["awaiting_mdn"]):
            message = tx.as2_of_exchange(exchange.id, "out")
            if message is None or message.next_attempt_at is None or message.next_attempt_at > now:
                continue
            partner = pipeline.config.partner(exchange.partner)
            settings = pipeline.as2_partner(partner).settings
            if message.attempts >= settings.max_attempts:
                _fail(tx, exchange, partner.name,
                      f"no asynchronous MDN after {message.attempts} tries")  # fmt: skip
                continue
            tx.set_state(exchange.id, "staged", expected=["awaiting_mdn"])
            tx.event(exchange.id, "as2_mdn_overdue", message_id=message.message_id[:200])
            moved += 1
    return moved
