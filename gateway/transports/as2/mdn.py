"""Message Disposition Notifications as AS2 uses them (RFC 4130 section 7, RFC 3798).

* :func:`read_request` reads what the sender asked for: an MDN at all
  (``Disposition-Notification-To``), signed or not and with which MIC algorithms
  (``Disposition-Notification-Options``), in the HTTP answer or posted later
  (``Receipt-Delivery-Option``).
* :func:`build_mdn` writes one: ``multipart/report; report-type=disposition-notification``
  with a human-readable part and the ``message/disposition-notification`` fields
  (Reporting-UA, Original-Recipient, Final-Recipient, Original-Message-ID, Disposition,
  Received-Content-MIC), wrapped in ``multipart/signed`` when a signed receipt is asked.
* :func:`read_mdn` reads and checks one received for a message we sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from gateway.transports.as2 import cms
from gateway.transports.as2.mic import Mic, MicError
from gateway.transports.as2.mime import (
    Entity,
    MimeError,
    entity_with_headers,
    from_http,
    join_multipart,
    new_boundary,
    split_multipart,
)
from gateway.transports.as2.smime import sign_entity, verify_signed


class MdnError(cms.CmsError):
    """An MDN received cannot be used as a receipt: unreadable, unsigned where a signed one
    was asked, signed by someone else, or about another message. The message says which."""


_ACTION = "automatic-action/MDN-sent-automatically"


@dataclass(frozen=True)
class Disposition:
    """A disposition (RFC 4130 section 7.5.3): ``processed`` or ``failed``, with an optional
    modifier such as ``error: authentication-failed``, ``warning: ...`` or
    ``Failure: unsupported MIC-algorithms``."""

    status: str
    modifier: str | None = None

    @classmethod
    def processed(cls) -> Disposition:
        """Received and handed on."""
        return cls("processed")

    @classmethod
    def error(cls, modifier: str) -> Disposition:
        """``processed/error: <modifier>`` (decryption-failed, authentication-failed...)."""
        return cls("processed", f"error: {modifier}")

    @classmethod
    def failure(cls, text: str) -> Disposition:
        """``failed/Failure: <text>``: the MDN request itself cannot be honoured."""
        return cls("failed", f"Failure: {text}")

    @classmethod
    def parse(cls, text: str) -> Disposition:
        """Read a ``Disposition`` field value; the action mode is not checked."""
        _, _, rest = text.partition(";")
        status, _, modifier = rest.strip().partition("/")
        status = status.strip().lower()
        if status not in ("processed", "failed"):
            raise MdnError(f"Disposition {text[:120]!r} is neither processed nor failed")
        return cls(status, modifier.strip() or None)

    @property
    def ok(self) -> bool:
        """``processed``, with no modifier or only a warning (RFC 4130 section 7.5.3)."""
        return self.status == "processed" and (
            self.modifier is None or self.modifier.lower().startswith("warning")
        )

    def __str__(self) -> str:
        suffix = f"/{self.modifier}" if self.modifier else ""
        return f"{_ACTION}; {self.status}{suffix}"


@dataclass(frozen=True)
class MdnRequest:
    """What the sender of a message asked for (RFC 4130 section 7.3)."""

    wanted: bool
    signed: bool = False
    signed_required: bool = False
    micalgs: tuple[str, ...] = ()
    micalg_required: bool = False
    #: ``Receipt-Delivery-Option``: post the MDN there later instead of answering with it.
    url: str | None = None

    def mic_algorithm(self, accepted: Collection[str]) -> str | None:
        """The first asked MIC algorithm we accept (normalised), or None when none is."""
        for name in self.micalgs:
            try:
                normal = cms.normalise_digest(name)
            except cms.CmsError:
                continue
            if normal in accepted:
                return normal
        return None


_OPTION = re.compile(r"\s*([\w-]+)\s*=\s*([^;]*)")


def read_request(headers: Mapping[str, str]) -> MdnRequest:
    """The MDN request of a message's HTTP headers (names in lower case). The option syntax
    is ``name=importance, value, value; ...`` (RFC 3798 section 2.2, RFC 4130 section 7.3)."""
    wanted = "disposition-notification-to" in headers
    options: dict[str, tuple[str, list[str]]] = {}
    for match in _OPTION.finditer(headers.get("disposition-notification-options", "")):
        values = [v.strip() for v in match.group(2).split(",") if v.strip()]
        if values:
            options[match.group(1).lower()] = (values[0].lower(), values[1:])
    protocol = options.get("signed-receipt-protocol")
    micalg = options.get("signed-receipt-micalg")
    signed = protocol is not None and any(v.lower() == "pkcs7-signature" for v in protocol[1])
    url = headers.get("receipt-delivery-option", "").strip() or None
    return MdnRequest(
        wanted=wanted or url is not None,
        signed=signed,
        signed_required=protocol is not None and protocol[0] == "required",
        micalgs=tuple(micalg[1]) if micalg else (),
        micalg_required=micalg is not None and micalg[0] == "required",
        url=url,
    )


def _report(
    *, reporting_ua: str, our_id: str, original_message_id: str, disposition: Disposition,
    mic: Mic | None, explanation: str,
) -> Entity:  # fmt: skip
    fields = [
        f"Reporting-UA: {reporting_ua}",
        f"Original-Recipient: rfc822; {our_id}",
        f"Final-Recipient: rfc822; {our_id}",
        f"Original-Message-ID: {original_message_id}",
    ]
    if mic is not None:
        fields.append(f"Received-Content-MIC: {mic}")
    fields.append(f"Disposition: {disposition}")
    notification = entity_with_headers(
        [("Content-Type", "message/disposition-notification"),
         ("Content-Transfer-Encoding", "7bit")],
        ("\r\n".join(fields) + "\r\n").encode("ascii", "replace"),
    )  # fmt: skip
    text = entity_with_headers(
        [("Content-Type", "text/plain; charset=us-ascii"), ("Content-Transfer-Encoding", "7bit")],
        (explanation.replace("\r", "").replace("\n", "\r\n") + "\r\n").encode("ascii", "replace"),
    )
    boundary = new_boundary()
    return entity_with_headers(
        [("Content-Type",
          f'multipart/report; report-type=disposition-notification; boundary="{boundary}"')],
        join_multipart([text.raw, notification.raw], boundary),
    )  # fmt: skip


@dataclass(frozen=True)
class BuiltMdn:
    """An MDN ready to send: its Content-Type and body (HTTP answer or POST)."""

    content_type: str
    body: bytes


def build_mdn(
    *,
    reporting_ua: str,
    our_id: str,
    original_message_id: str,
    disposition: Disposition,
    mic: Mic | None,
    explanation: str,
    signer: cms.Signer | None = None,
    digest: str = "sha256",
) -> BuiltMdn:
    """An MDN about ``original_message_id``, signed by ``signer`` with ``digest`` when given
    (a signed receipt was asked and we can sign). The MIC is included only when the message
    was processed (RFC 4130 section 7.4.3)."""
    report = _report(reporting_ua=reporting_ua, our_id=our_id,
                     original_message_id=original_message_id, disposition=disposition,
                     mic=mic, explanation=explanation)  # fmt: skip
    entity = sign_entity(report, signer, digest) if signer is not None else report
    return BuiltMdn(entity.fields["Content-Type"], entity.body)


@dataclass(frozen=True)
class ReceivedMdn:
    """An MDN read for a message we sent."""

    original_message_id: str
    disposition: Disposition
    mic: Mic | None
    #: Fingerprint-able certificate that signed it (None: unsigned).
    signer: x509.Certificate | None
    explanation: str


def read_mdn(
    content_type: str,
    body: bytes,
    *,
    trusted: Sequence[x509.Certificate],
    now: datetime,
    require_signed: bool,
    allowed_digests: Collection[str],
) -> ReceivedMdn:
    """Read an MDN (an HTTP answer's or an async POST's Content-Type and body). A signed
    one is verified against ``trusted`` only; an unsigned one is refused when
    ``require_signed``. Raises :class:`MdnError` (or the :class:`cms.CmsError` of a signature
    that does not verify)."""
    entity = from_http(content_type, body)
    signer = None
    if entity.content_type == "multipart/signed":
        signed = verify_signed(entity, trusted, now=now, allowed_digests=allowed_digests)
        entity, signer = signed.content, signed.verified.certificate
    elif require_signed:
        raise MdnError(f"MDN is not signed ({entity.content_type}); a signed receipt was asked")
    if entity.content_type != "multipart/report":
        raise MdnError(f"MDN is {entity.content_type}, not multipart/report")
    try:
        parts = split_multipart(entity)
    except MimeError as exc:
        raise MdnError(f"MDN report cannot be read: {exc}") from None
    notification = next(
        (p for p in parts if p.content_type == "message/disposition-notification"), None
    )
    if notification is None:
        raise MdnError("MDN report has no message/disposition-notification part")
    fields = _fields(notification.decoded_body())
    original = fields.get("original-message-id")
    disposition = fields.get("disposition")
    if not original or not disposition:
        raise MdnError("MDN lacks Original-Message-ID or Disposition")
    mic = None
    if fields.get("received-content-mic"):
        try:
            mic = Mic.parse(fields["received-content-mic"])
        except (MicError, cms.CmsError) as exc:
            raise MdnError(f"MDN Received-Content-MIC: {exc}") from None
    text = next((p for p in parts if p.content_type == "text/plain"), None)
    explanation = text.decoded_body().decode("ascii", "replace").strip() if text else ""
    return ReceivedMdn(original, Disposition.parse(disposition), mic, signer, explanation)


def _fields(block: bytes) -> dict[str, str]:
    """``Name: value`` lines (folded lines joined), names in lower case."""
    fields: dict[str, str] = {}
    last = None
    for line in block.decode("ascii", "replace").replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and last:
            fields[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            fields[last] = value.strip()
    return fields
