"""Receiving AS2 messages (RFC 4130): from an HTTP POST to a stored exchange and an MDN.

:func:`receive_message` is what ``POST /as2`` runs (in a worker thread). In order:

1. The headers are checked: AS2-Version, AS2-From, AS2-To and Message-ID must be there and
   sane, else HTTP 400 without an MDN; a pair of AS2 ids we have no partnership for gets
   HTTP 403 without an MDN (reliability.md policy). Either way one audit row of bounded
   size is kept.
2. A Message-ID already processed: the same body gets the stored MDN again, byte for byte,
   and nothing is processed twice; another body gets an error MDN and an alert
   (reliability.md 1.3, erratum 3055). Only successes count: a message that failed never
   blocks a good resend (django-pyas2#33).
3. The message is opened (decrypt, verify against the partner's certificates only,
   decompress), its protection checked against the partnership and its MIC computed;
   a failure gets ``processed/error: <modifier>`` (RFC 4130 7.5.3) and an alert.
4. The raw body and headers, the payload (an inbound exchange in state ``received``) and
   the MDN are committed in one transaction *before* the answer leaves (G1). Two posts of
   the same Message-ID at once race on the UNIQUE ``dedupe_key``: one commits, the other
   rolls back and answers with the winner's MDN.
5. The MDN goes back in the HTTP answer, or, when the sender asked for an asynchronous
   one, is owed: :func:`send_owed_mdns` posts it, retrying with backoff.

Crash points: ``as2.body_read`` (C1), ``as2.verified`` (C2), ``as2.committed`` (C3).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from gateway.config import Partner
from gateway.crashpoints import crashpoint
from gateway.errors import AcornError, ConfigError, TransportError, UnsafeNameError
from gateway.pipeline.context import Pipeline
from gateway.pipeline.retry import retry_delay
from gateway.store import Repository
from gateway.transports import safe_name
from gateway.transports.as2 import cms
from gateway.transports.as2.client import post
from gateway.transports.as2.mdn import Disposition, MdnRequest, build_mdn, read_request
from gateway.transports.as2.message import AS2_VERSION, new_message_id, open_message
from gateway.transports.as2.mic import Mic
from gateway.transports.as2.mime import entity_with_headers, parse_entity
from gateway.transports.as2.station import PartnerStation, Station

#: RFC 5322 section 2.1.1: a line is at most 998 characters; a longer Message-ID is refused.
MAX_MESSAGE_ID = 998
#: Header values kept in an audit row, and how many headers at most (bounded size, T5 g).
_AUDIT_VALUE = 300
_AUDIT_HEADERS = 40
#: The headers worth keeping as evidence of a message (never Authorization or cookies).
_EVIDENCE = (
    "as2-version", "as2-from", "as2-to", "message-id", "content-type", "content-length",
    "content-transfer-encoding", "content-disposition", "disposition-notification-to",
    "disposition-notification-options", "receipt-delivery-option", "subject", "date",
    "user-agent", "mime-version", "ediint-features", "transfer-encoding",
)  # fmt: skip
#: Tries of an asynchronous MDN before it is given up (with an alert): 30 s doubling to an
#: hour makes about 14 hours.
MDN_ATTEMPTS = 20
_VERSION = re.compile(r"^1\.\d$")


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a POST: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def _text(status: int, message: str) -> Answer:
    return Answer(status, (("Content-Type", "text/plain; charset=utf-8"),),
                  (message + "\n").encode("utf-8"))  # fmt: skip


def _unquote(value: str) -> str:
    """An AS2 id as sent, quotes removed (RFC 4130 6.2 allows a quoted string)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def dedupe_key(direction: str, as2_from: str, as2_to: str, message_id: str) -> str:
    """The key that makes a Message-ID count once per direction and pair of AS2 ids."""
    text = "\x00".join((direction, as2_from, as2_to, message_id))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def evidence_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers kept with a message: the AS2 and MIME ones, bounded in size."""
    kept = {name: headers[name][:_AUDIT_VALUE * 4] for name in _EVIDENCE if name in headers}
    return dict(list(kept.items())[:_AUDIT_HEADERS])


def _audit(
    pipeline: Pipeline, headers: Mapping[str, str], status: str, reason: str,
    partner: str | None = None,
) -> None:  # fmt: skip
    """One audit row of bounded size for a message refused at the HTTP level (no MDN)."""
    bounded = {k: v[:_AUDIT_VALUE] for k, v in list(headers.items())[:_AUDIT_HEADERS]
               if k in _EVIDENCE}  # fmt: skip
    with pipeline.store.transaction() as tx:
        tx.add_as2_message(
            direction="in", partner=partner, message_id=headers.get("message-id", "")[:1000],
            as2_from=headers.get("as2-from", "")[:130], as2_to=headers.get("as2-to", "")[:130],
            status="refused", reason=reason[:1000], headers=bounded, mdn_mode="none",
        )  # fmt: skip


def refuse_oversize(pipeline: Pipeline, headers: Mapping[str, str], limit: int) -> Answer:
    """HTTP 413 for a body over ``limit`` bytes (reliability.md policy; T5 h, T11), with an
    audit row and nothing else. The answer closes the connection: kept alive, the server
    would go on reading (and discarding) the rest of the body, however large (T11)."""
    _audit(pipeline, headers, "refused", f"body over the limit of {limit} bytes")
    answer = _text(413, f"body over the limit of {limit} bytes")
    return Answer(answer.status, (*answer.headers, ("Connection", "close")), answer.body)


def receive_message(pipeline: Pipeline, headers: Mapping[str, str], body: bytes) -> Answer:
    """Handle one AS2 POST (``headers`` with lower-case names) and return the answer. Never
    raises for bad input: every outcome is an answer and a row."""
    crashpoint("as2.body_read")
    problem = _header_problem(headers)
    if problem:
        _audit(pipeline, headers, "refused", problem)
        return _text(400, problem)
    as2_from, as2_to = _unquote(headers["as2-from"]), _unquote(headers["as2-to"])
    message_id = headers["message-id"].strip()
    partner = pipeline.config.partner_by_as2(as2_from, as2_to)
    if partner is None:
        _audit(pipeline, headers, "refused", f"no partnership from {as2_from!r} to {as2_to!r}")
        return _text(403, "unknown AS2-From / AS2-To pair")
    try:
        station, their = pipeline.as2_station(), pipeline.as2_partner(partner)
    except ConfigError as exc:
        _audit(pipeline, headers, "refused", f"configuration: {exc}", partner.name)
        return _text(503, "AS2 is not usable: configuration problem (see the gateway's log)")
    return _Receipt(pipeline, partner, station, their, headers, body, as2_from, as2_to,
                    message_id).run()  # fmt: skip


def _header_problem(headers: Mapping[str, str]) -> str | None:
    """Why the AS2 headers cannot be used (RFC 4130 section 6), or None."""
    missing = [n for n in ("AS2-Version", "AS2-From", "AS2-To", "Message-ID")
               if not headers.get(n.lower(), "").strip()]  # fmt: skip
    if missing:
        return f"missing header(s): {', '.join(missing)}"
    if not _VERSION.match(headers["as2-version"].strip()):
        return f"AS2-Version {headers['as2-version'][:20]!r} is not 1.x"
    message_id = headers["message-id"].strip()
    if len(message_id) > MAX_MESSAGE_ID:
        return f"Message-ID is {len(message_id)} characters; at most {MAX_MESSAGE_ID}"
    if any(ch < " " or ch == "\x7f" for ch in message_id):
        return "Message-ID contains control characters"
    for name in ("as2-from", "as2-to"):
        value = _unquote(headers[name])
        if len(value) > 128 or any(ch < " " or ch == "\x7f" for ch in value):
            return f"{name.upper()} is over 128 characters or contains control characters"
    return None


class _Receipt:
    """One received message on its way to a stored exchange and an MDN."""

    def __init__(
        self, pipeline: Pipeline, partner: Partner, station: Station, their: PartnerStation,
        headers: Mapping[str, str], body: bytes, as2_from: str, as2_to: str, message_id: str,
    ) -> None:  # fmt: skip
        self.pipeline, self.partner, self.station, self.their = pipeline, partner, station, their
        self.headers, self.body = headers, body
        self.as2_from, self.as2_to, self.message_id = as2_from, as2_to, message_id
        self.key = dedupe_key("in", as2_from, as2_to, message_id)
        self.sha256 = hashlib.sha256(body).hexdigest()
        self.request: MdnRequest = read_request(headers)

    def run(self) -> Answer:
        with self.pipeline.store.transaction() as tx:
            earlier = self._earlier(tx)
        if earlier is not None:
            return earlier
        settings = self.their.settings
        mic_algorithm = self.request.mic_algorithm(settings.accepted_digests)
        if self.request.signed_required and not self.request.signed:
            return self._failed(Disposition.failure("unsupported format"),
                                "a signed receipt was required in a format other than "
                                "pkcs7-signature")  # fmt: skip
        if self.request.micalgs and mic_algorithm is None and self.request.micalg_required:
            return self._failed(Disposition.failure("unsupported MIC-algorithms"),
                                f"none of the MIC algorithms {list(self.request.micalgs)} "
                                "is accepted for this partner")  # fmt: skip
        try:
            opened = open_message(
                self.headers, self.body, identities=self.station.identities,
                trusted=self.their.certificates, now=self.pipeline.now(),
                accepted_digests=settings.accepted_digests,
                require_signature=settings.require_signature,
                require_encryption=settings.require_encryption,
                mic_algorithm=mic_algorithm, max_size=self.station.body_limit * 20,
            )  # fmt: skip
        except cms.CmsError as exc:
            return self._failed(Disposition.error(exc.disposition), str(exc))
        except (TransportError, ValueError) as exc:
            return self._failed(Disposition.error("unexpected-processing-error"), str(exc))
        crashpoint("as2.verified")
        mdn = self._mdn(Disposition.processed(), opened.mic, "The AS2 message has been "
                        "received and stored. It will be processed.")  # fmt: skip
        with self.pipeline.store.transaction() as tx:
            as2_id = tx.add_as2_message(
                direction="in", partner=self.partner.name, message_id=self.message_id,
                as2_from=self.as2_from, as2_to=self.as2_to, dedupe_key=self.key,
                status="processed", headers=evidence_headers(self.headers), body=self.body,
                body_sha256=self.sha256, mic=str(opened.mic),
                disposition=str(Disposition.processed()), certificate=opened.certificate,
                mdn=mdn, **self._mdn_delivery(),
            )  # fmt: skip
            if as2_id is None:
                # Another request with this Message-ID committed first (T2): answer with
                # its MDN, or refuse a different body, and record nothing more.
                earlier = self._earlier(tx)
            else:
                self._store_payload(tx, as2_id, opened.payload, opened.filename)
        if earlier is not None:
            return earlier
        crashpoint("as2.committed")
        return self._answer(mdn)

    # -- the MDN ---------------------------------------------------------------------------

    def _mdn(self, disposition: Disposition, mic: Mic | None, explanation: str) -> bytes:
        """The MDN as stored and sent: HTTP headers, blank line, body (RFC 4130 7.2)."""
        signer = self.station.signer if self.request.signed else None
        settings = self.their.settings
        digest = self.request.mic_algorithm(settings.accepted_digests) or "sha256"
        if digest == "md5":
            digest = "sha256"  # we never sign with md5 (reliability.md policy)
        built = build_mdn(
            reporting_ua=self.station.user_agent, our_id=self.as2_to,
            original_message_id=self.message_id, disposition=disposition,
            mic=mic if disposition.ok else None, explanation=explanation, signer=signer,
            digest=digest,
        )  # fmt: skip
        headers = [
            ("AS2-Version", AS2_VERSION), ("AS2-From", self.as2_to), ("AS2-To", self.as2_from),
            ("Message-ID", new_message_id(self.station.as2_id)), ("MIME-Version", "1.0"),
            ("Content-Type", built.content_type),
        ]  # fmt: skip
        return entity_with_headers(headers, built.body).raw

    def _mdn_delivery(self) -> dict[str, object]:
        if not self.request.wanted:
            return {"mdn_mode": "none"}
        if self.request.url:
            return {"mdn_mode": "async", "mdn_url": self.request.url[:1000],
                    "mdn_state": "pending", "next_attempt_at": self.pipeline.now()}  # fmt: skip
        return {"mdn_mode": "sync"}

    def _answer(self, mdn: bytes) -> Answer:
        """The HTTP answer for a stored MDN: the MDN itself when asked synchronously, else
        an empty 200 (an asynchronous MDN follows; RFC 4130 7.3)."""
        if not self.request.wanted or self.request.url:
            return Answer(200, (("Content-Length", "0"),), b"")
        entity = parse_entity(mdn)
        return Answer(200, tuple(entity.fields.items()), entity.body)

    # -- the outcomes ----------------------------------------------------------------------

    def _earlier(self, tx: Repository) -> Answer | None:
        """The answer when this Message-ID was already processed: the stored MDN again for
        the same body, an error MDN and an alert for another body; None when it is new."""
        existing = tx.as2_by_key(self.key)
        if existing is None:
            return None
        if existing.body_sha256 == self.sha256:
            mdn = tx.as2_mdn(existing.id)
            if existing.exchange_id is not None:
                tx.event(existing.exchange_id, "as2_resend", message_id=self.message_id[:200])
            if existing.mdn_mode == "async" and existing.mdn_state != "pending":
                # The sender may not have our MDN: owe it again (RFC 4130 5.5 resend).
                tx.update_as2_message(existing.id, mdn_state="pending",
                                      next_attempt_at=self.pipeline.now())  # fmt: skip
            return self._answer(mdn or b"")
        return self._conflict(tx)

    def _conflict(self, tx: Repository) -> Answer:
        reason = (f"Message-ID {self.message_id[:200]!r} was already received with another "
                  "body; this one is not processed")  # fmt: skip
        return self._refuse_in(
            tx, Disposition.error("unexpected-processing-error"), reason,
            alert=(f"as2_message_id_reused:{self.partner.name}:{self.key[:32]}",
                   "as2_message_id_reused",
                   f"{self.partner.name}: AS2 Message-ID reused with another body"),
        )  # fmt: skip

    def _failed(self, disposition: Disposition, reason: str) -> Answer:
        with self.pipeline.store.transaction() as tx:
            return self._refuse_in(tx, disposition, reason)

    def _refuse_in(
        self, tx: Repository, disposition: Disposition, reason: str,
        alert: tuple[str, str, str] | None = None,
    ) -> Answer:  # fmt: skip
        """Record a message that is not processed (no dedupe key: a good resend is still
        welcome) with its error MDN, raise an alert (``alert``: key, kind, subject; by
        default one per partner and disposition), and answer with the MDN."""
        mdn = self._mdn(disposition, None, f"The AS2 message was not processed: {reason}")
        tx.add_as2_message(
            direction="in", partner=self.partner.name, message_id=self.message_id,
            as2_from=self.as2_from, as2_to=self.as2_to, status="failed", reason=reason[:2000],
            headers=evidence_headers(self.headers), body=self.body, body_sha256=self.sha256,
            disposition=str(disposition), mdn=mdn, **self._mdn_delivery(),
        )  # fmt: skip
        modifier = disposition.modifier or disposition.status
        key, kind, subject = alert or (
            f"as2_inbound_failed:{self.partner.name}:{modifier}", "as2_inbound_failed",
            f"{self.partner.name}: AS2 message refused ({modifier})",
        )  # fmt: skip
        tx.raise_alert(key=key, kind=kind, partner=self.partner.name, subject=subject,
                       detail=reason)  # fmt: skip
        return self._answer(mdn)

    def _store_payload(
        self, tx: Repository, as2_id: int, payload: bytes, filename: str | None
    ) -> None:
        """The payload as an inbound exchange (the pipeline processes it like any file);
        the same file already received under another Message-ID is linked, not stored
        twice (ISA13 dedupe catches the rest, reliability.md 1.1)."""
        name = _file_name(filename, self.message_id)
        sha256 = hashlib.sha256(payload).hexdigest()
        exchange_id = tx.add_exchange(
            channel="partner", direction="in", kind="x12", partner=self.partner.name,
            transport="as2", reference=self.message_id[:512], file_name=name, payload=payload,
            sha256=sha256, state="received",
        )  # fmt: skip
        if exchange_id is None:
            first = tx.find_exchange(channel="partner", direction="in", partner=self.partner.name,
                                     file_name=name, sha256=sha256)  # fmt: skip
            assert first is not None  # the UNIQUE constraint said it exists
            tx.update_as2_message(as2_id, exchange_id=first.id)
            tx.event(first.id, "as2_duplicate_payload", message_id=self.message_id[:200])
            return
        tx.update_as2_message(as2_id, exchange_id=exchange_id)
        tx.event(exchange_id, "as2_received", message_id=self.message_id[:200],
                 size=len(payload), mdn=self._mdn_delivery()["mdn_mode"])  # fmt: skip
        # A good message clears the partner's "refused" alerts (one alert per condition
        # until it clears).
        for alert in tx.alerts(open_only=True, kind="as2_inbound_failed"):
            if alert.partner == self.partner.name:
                tx.clear_alert(alert.key)


def _file_name(filename: str | None, message_id: str) -> str:
    """The exchange's file name: the sender's (Content-Disposition) when it is a safe name
    (T6: ``../../etc/x`` never becomes a path), else one made from the Message-ID."""
    if filename:
        try:
            return safe_name(filename)
        except UnsafeNameError:
            pass
    return f"as2-{hashlib.sha256(message_id.encode('utf-8', 'replace')).hexdigest()[:24]}.edi"


def send_owed_mdns(pipeline: Pipeline, *, limit: int = 50) -> int:
    """Post every asynchronous MDN we owe whose next try is due (RFC 4130 7.3: to the
    sender's Receipt-Delivery-Option URL); a failure is retried with backoff, 30 s doubling
    up to an hour, and after :data:`MDN_ATTEMPTS` tries given up with an alert (T14).
    Returns how many were delivered."""
    with pipeline.store.transaction() as tx:
        due = tx.claim_due_mdns(pipeline.now(), pipeline.lease_seconds, limit)
    delivered = 0
    for message in due:
        with pipeline.store.transaction() as tx:
            mdn = tx.as2_mdn(message.id) or b""
        entity = parse_entity(mdn)
        partner = pipeline.config.partner(message.partner) if message.partner else None
        timeouts = partner.as2 if partner is not None and partner.as2 is not None else None
        try:
            answer = post(message.mdn_url or "", tuple(entity.fields.items()), entity.body,
                          connect_timeout=timeouts.connect_timeout if timeouts else 30.0,
                          read_timeout=timeouts.read_timeout if timeouts else 60.0)  # fmt: skip
            failure = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
        except AcornError as exc:
            failure = str(exc)
        with pipeline.store.transaction() as tx:
            if failure is None:
                tx.update_as2_message(message.id, mdn_state="delivered", next_attempt_at=None)
                delivered += 1
            elif message.attempts >= MDN_ATTEMPTS:
                tx.update_as2_message(message.id, mdn_state="failed", reason=failure[:2000])
                tx.raise_alert(key=f"as2_mdn_undeliverable:{message.id}",
                               kind="as2_mdn_undeliverable", partner=message.partner,
                               subject=f"asynchronous MDN for {message.message_id[:100]} "
                                       "could not be delivered", detail=failure,
                               exchange_id=message.exchange_id)  # fmt: skip
            else:
                delay = retry_delay(message.attempts)
                tx.update_as2_message(message.id, reason=failure[:2000],
                                      next_attempt_at=pipeline.now() + timedelta(seconds=delay))
    return delivered
