"""AS2 messages (RFC 4130): build one to send, open one received.

:func:`build_message` wraps a payload for a partner: the payload entity, then optionally
compressed (RFC 5402, before signing), signed (``multipart/signed``) and encrypted
(enveloped-data), with the HTTP headers of RFC 4130 section 6 and the MIC we expect back.
:func:`open_message` undoes the layers of a received message in whatever order the sender
used, checks the signature against the partner's certificates only, checks that the
protection is what the partnership requires, and computes the MIC of section 7.3.1.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from cryptography import x509

from gateway.transports.as2 import cms
from gateway.transports.as2.certificates import fingerprint
from gateway.transports.as2.mic import Mic
from gateway.transports.as2.mime import Entity, MimeError, entity_with_headers, from_http
from gateway.transports.as2.smime import (
    PKCS7_MIME,
    compress_entity,
    decompress_entity,
    decrypt_entity,
    encrypt_entity,
    sign_entity,
    verify_signed,
)

#: The AS2 version we speak: 1.1 adds compression (RFC 5402 section 2).
AS2_VERSION = "1.1"


class InsufficientSecurity(cms.CmsError):
    """The message is less protected than the partnership requires (RFC 4130 7.5.3)."""

    disposition = "insufficient-message-security"


class UnexpectedStructure(cms.CmsError):
    """The message's layers are not an AS2 structure we can open."""

    disposition = "unexpected-processing-error"


def quote_header(value: str) -> str:
    """A header value with control characters removed (a value from configuration or from
    a partner never splits a header)."""
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f")


def new_message_id(our_id: str) -> str:
    """A globally unique Message-ID in angle brackets (RFC 4130 section 5.3.3)."""
    local = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in our_id)[:64]
    return f"<acorn-{secrets.token_hex(16)}@{local or 'as2'}>"


@dataclass(frozen=True)
class OutboundMessage:
    """A message ready to post: the exact HTTP ``headers`` and ``body`` (every retry posts
    these bytes under this ``message_id``) and the ``mic`` the partner's MDN must return."""

    message_id: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    mic: Mic


def build_message(
    payload: bytes,
    *,
    filename: str,
    our_id: str,
    partner_id: str,
    signer: cms.Signer | None,
    signature: str | None,
    recipient: x509.Certificate | None,
    encryption: str | None,
    key_encryption: str = "rsa-pkcs1v15",
    compress: bool = False,
    content_type: str = "application/edi-x12",
    mdn: str = "sync",
    mdn_signed: bool = True,
    mdn_digest: str = "sha256",
    mdn_url: str | None = None,
    mdn_to: str = "acorn-gateway",
    subject: str = "EDI",
    now: datetime | None = None,
) -> OutboundMessage:
    """Wrap ``payload`` for a partner. ``signature`` (a digest) needs ``signer``;
    ``encryption`` (a cipher) needs ``recipient``; ``mdn`` is ``sync``, ``async`` (with
    ``mdn_url``) or ``none``."""
    entity = entity_with_headers(
        [("Content-Type", quote_header(content_type)),
         ("Content-Transfer-Encoding", "binary"),
         ("Content-Disposition", f'attachment; filename="{quote_header(filename)}"')],
        payload,
    )  # fmt: skip
    if compress:
        entity = compress_entity(entity)
    mic_algorithm = cms.normalise_digest(signature or mdn_digest)
    if signature is not None:
        if signer is None:
            raise ValueError("a signature needs our certificate and key")
        mic = Mic.of(entity.raw, mic_algorithm)
        entity = sign_entity(entity, signer, signature)
    elif encryption is not None:
        mic = Mic.of(entity.raw, mic_algorithm)
    else:
        mic = Mic.of(entity.body, mic_algorithm)
    if encryption is not None:
        if recipient is None:
            raise ValueError("encryption needs the partner's certificate")
        entity = encrypt_entity(entity, recipient, encryption, key_encryption)
    message_id = new_message_id(our_id)
    when = now or datetime.now(UTC)
    headers = [
        ("AS2-Version", AS2_VERSION),
        ("AS2-From", our_id),
        ("AS2-To", partner_id),
        ("Message-ID", message_id),
        ("Date", format_datetime(when.astimezone(UTC), usegmt=True)),
        ("Subject", quote_header(subject)),
        ("MIME-Version", "1.0"),
        ("Content-Type", entity.fields["Content-Type"]),
        ("Content-Disposition", f'attachment; filename="{quote_header(filename)}"'),
        ("User-Agent", "acorn-gateway"),
    ]
    if mdn != "none":
        headers.append(("Disposition-Notification-To", quote_header(mdn_to)))
        if mdn_signed:
            headers.append((
                "Disposition-Notification-Options",
                "signed-receipt-protocol=optional, pkcs7-signature; "
                f"signed-receipt-micalg=optional, {cms.micalg_name(mic_algorithm)}",
            ))  # fmt: skip
        if mdn == "async":
            if not mdn_url:
                raise ValueError("an asynchronous MDN needs our MDN URL")
            headers.append(("Receipt-Delivery-Option", mdn_url))
    return OutboundMessage(message_id, tuple(headers), entity.body, mic)


@dataclass(frozen=True)
class OpenedMessage:
    """What a received message carried and how it was protected."""

    payload: bytes
    filename: str | None
    content_type: str
    signed: bool
    encrypted: bool
    compressed: bool
    mic: Mic
    #: SHA-256 fingerprint of the partner certificate that verified the signature.
    certificate: str | None
    cipher: str | None


def open_message(
    headers: Mapping[str, str],
    body: bytes,
    *,
    identities: Sequence[cms.Signer],
    trusted: Sequence[x509.Certificate],
    now: datetime,
    accepted_digests: Collection[str],
    require_signature: bool,
    require_encryption: bool,
    mic_algorithm: str | None,
    max_size: int,
) -> OpenedMessage:
    """Undo the layers of a received message (HTTP ``headers`` with lower-case names).

    Raises a :class:`cms.CmsError` whose ``disposition`` is the MDN's error modifier:
    decryption-failed, authentication-failed (signature, certificate expired or not the
    partner's), integrity-check-failed, decompression-failed, insufficient-message-security
    (less protection than required, or a signature digest we do not accept), or
    unexpected-processing-error."""
    entity = from_http(headers.get("content-type", "text/plain"), body,
                       headers.get("content-transfer-encoding"))  # fmt: skip
    signed_entity: Entity | None = None
    decrypted_entity: Entity | None = None
    certificate = cipher = None
    digest_used = None
    compressed = False
    for _ in range(4):  # at most: enveloped > compressed > signed > compressed
        kind = entity.content_type
        if kind in PKCS7_MIME:
            smime_type = (entity.param("smime-type") or "").lower()
            if smime_type == "compressed-data":
                entity = decompress_entity(entity, max_size=max_size)
                compressed = True
                continue
            if smime_type not in ("", "enveloped-data"):
                raise UnexpectedStructure(f"application/pkcs7-mime smime-type {smime_type!r} "
                                          "is not supported (enveloped or compressed data)")
            if decrypted_entity is not None or signed_entity is not None:
                raise UnexpectedStructure("encrypted content inside an encrypted or signed one")
            entity, cipher = decrypt_entity(entity, identities)
            decrypted_entity = entity
            continue
        if kind == "multipart/signed":
            if signed_entity is not None:
                raise UnexpectedStructure("a signed message inside a signed message")
            try:
                result = verify_signed(entity, trusted, now=now, allowed_digests=accepted_digests)
            except cms.UnsupportedAlgorithm as exc:
                raise InsufficientSecurity(f"signature digest not accepted: {exc}") from None
            signed_entity = entity = result.content
            certificate = fingerprint(result.verified.certificate)
            digest_used = result.verified.digest
            continue
        break
    if require_encryption and decrypted_entity is None:
        raise InsufficientSecurity(
            f"the message is not encrypted ({entity.content_type}); the partnership requires it"
        )
    if require_signature and signed_entity is None:
        raise InsufficientSecurity(
            f"the message is not signed ({entity.content_type}); the partnership requires it"
        )
    algorithm = mic_algorithm or digest_used or "sha256"
    # RFC 4130 section 7.3.1: what the MIC covers depends on the protection.
    if signed_entity is not None:
        mic = Mic.of(signed_entity.raw, algorithm)
    elif decrypted_entity is not None:
        mic = Mic.of(decrypted_entity.raw, algorithm)
    else:
        mic = Mic.of(body, algorithm)
    try:
        payload = entity.decoded_body()
    except MimeError as exc:
        raise UnexpectedStructure(f"payload cannot be decoded: {exc}") from None
    return OpenedMessage(payload, entity.filename, entity.content_type, signed_entity is not None,
                         decrypted_entity is not None, compressed, mic, certificate,
                         cipher)  # fmt: skip
