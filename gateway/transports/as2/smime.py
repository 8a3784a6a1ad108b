"""S/MIME layers over MIME entities (RFC 8551 as used by RFC 4130): sign into
``multipart/signed`` and verify it, encrypt into and decrypt ``application/pkcs7-mime``
enveloped-data, compress into and decompress compressed-data (RFC 5402 / RFC 3274).

The CMS work is :mod:`gateway.transports.as2.cms`; this module only wraps and unwraps
entities, keeping the exact bytes that were signed (the MIC is computed over them).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from gateway.transports.as2 import cms
from gateway.transports.as2.mime import (
    Entity,
    MimeError,
    base64_lines,
    decode_transfer,
    entity_with_headers,
    join_multipart,
    new_boundary,
    parse_entity,
    split_multipart,
)

#: Content types of an S/MIME CMS body (the ``x-`` forms are what older agents send).
PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")
PKCS7_SIGNATURE = ("application/pkcs7-signature", "application/x-pkcs7-signature")


def sign_entity(entity: Entity, signer: cms.Signer, digest: str) -> Entity:
    """``multipart/signed`` (RFC 1847, RFC 8551 3.5.3) whose first part is ``entity``'s
    exact bytes and whose second is a detached CMS signature over them."""
    signature = cms.sign(entity.raw, signer, digest)
    part = entity_with_headers(
        [("Content-Type", 'application/pkcs7-signature; name="smime.p7s"'),
         ("Content-Transfer-Encoding", "base64"),
         ("Content-Disposition", 'attachment; filename="smime.p7s"')],
        base64_lines(signature),
    )  # fmt: skip
    boundary = new_boundary()
    content_type = (f'multipart/signed; protocol="application/pkcs7-signature"; '
                    f'micalg={cms.micalg_name(digest)}; boundary="{boundary}"')  # fmt: skip
    return entity_with_headers([("Content-Type", content_type)],
                               join_multipart([entity.raw, part.raw], boundary))  # fmt: skip


@dataclass(frozen=True)
class SignedContent:
    """What a verified ``multipart/signed`` carried: the signed ``content`` entity (its
    exact bytes are what the MIC covers) and who signed it with which digest."""

    content: Entity
    verified: cms.Verified


def verify_signed(
    entity: Entity,
    trusted: Sequence[x509.Certificate],
    *,
    now: datetime,
    allowed_digests: Collection[str],
) -> SignedContent:
    """Verify a ``multipart/signed`` entity against the ``trusted`` certificates only.

    Raises :class:`cms.AuthenticationFailed` when the structure is not a signed entity
    with a signature part, or the signature does not verify; the other
    :class:`cms.CmsError` of :func:`cms.verify` pass through."""
    try:
        parts = split_multipart(entity)
    except MimeError as exc:
        raise cms.AuthenticationFailed(f"signed message cannot be read: {exc}") from None
    if len(parts) != 2:
        raise cms.AuthenticationFailed(
            f"multipart/signed has {len(parts)} parts; a content and a signature expected"
        )
    content, signature = parts
    if signature.content_type not in PKCS7_SIGNATURE:
        raise cms.AuthenticationFailed(
            f"the second part of multipart/signed is {signature.content_type}, "
            "not application/pkcs7-signature"
        )
    try:
        der = signature.decoded_body()
    except MimeError as exc:
        raise cms.AuthenticationFailed(f"signature part cannot be decoded: {exc}") from None
    verified = cms.verify(content.raw, der, trusted, now=now, allowed_digests=allowed_digests)
    return SignedContent(content, verified)


def encrypt_entity(
    entity: Entity, recipient: x509.Certificate, cipher: str, key_encryption: str
) -> Entity:
    """``application/pkcs7-mime; smime-type=enveloped-data`` with a binary DER body holding
    ``entity``'s exact bytes, encrypted for ``recipient``."""
    der = cms.encrypt(entity.raw, recipient, cipher, key_encryption)
    return entity_with_headers(
        [("Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'),
         ("Content-Transfer-Encoding", "binary")],
        der,
    )  # fmt: skip


def compress_entity(entity: Entity) -> Entity:
    """``application/pkcs7-mime; smime-type=compressed-data`` (RFC 5402) holding
    ``entity``'s exact bytes, zlib-compressed (RFC 3274)."""
    return entity_with_headers(
        [("Content-Type",
          'application/pkcs7-mime; smime-type=compressed-data; name="smime.p7z"'),
         ("Content-Transfer-Encoding", "binary")],
        cms.compress(entity.raw),
    )  # fmt: skip


def cms_body(entity: Entity) -> bytes:
    """The DER (or BER) of an ``application/pkcs7-mime`` entity: binary, or base64 whether
    or not a Content-Transfer-Encoding says so (some agents send base64 over HTTP without
    the header). Raises :class:`cms.CmsError` when it is neither."""
    encoding = entity.fields.get("Content-Transfer-Encoding")
    body = entity.body
    if encoding is None and body[:1] != b"\x30":
        encoding = "base64"
    try:
        return decode_transfer(body, encoding)
    except MimeError as exc:
        raise cms.CmsError(f"{entity.content_type} body: {exc}") from None


def decrypt_entity(entity: Entity, identities: Sequence[cms.Signer]) -> tuple[Entity, str]:
    """The entity an enveloped-data entity carries, decrypted with the first of our
    ``identities`` (current key, then the previous one during a rollover) it was encrypted
    for; also the cipher used. Raises :class:`cms.DecryptionFailed`."""
    der = cms_body(entity)
    failure: cms.DecryptionFailed | None = None
    for identity in identities:
        try:
            decrypted = cms.decrypt(der, identity.certificate, identity.key)
        except cms.DecryptionFailed as exc:
            failure = exc
            continue
        try:
            return parse_entity(decrypted.content), decrypted.cipher
        except MimeError as exc:
            raise cms.DecryptionFailed(f"decrypted content is not a MIME entity: {exc}") from None
    raise failure or cms.DecryptionFailed("no key of ours to decrypt with")


def decompress_entity(entity: Entity, *, max_size: int) -> Entity:
    """The entity a compressed-data entity carries. Raises :class:`cms.DecompressionFailed`."""
    try:
        der = cms_body(entity)
        return parse_entity(cms.decompress(der, max_size=max_size))
    except MimeError as exc:
        raise cms.DecompressionFailed(f"decompressed content is not a MIME entity: {exc}") from None
    except cms.DecompressionFailed:
        raise
    except cms.CmsError as exc:
        raise cms.DecompressionFailed(str(exc)) from None
