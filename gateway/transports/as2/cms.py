"""CMS (RFC 5652) for AS2: sign, verify, encrypt, decrypt, compress, decompress.

DER in, DER out (BER is accepted when parsing); nothing here knows of MIME or HTTP. The ASN.1
structures are built and read with ``asn1crypto``; every cryptographic operation is a
``cryptography`` primitive, with one code path for every algorithm.

Every failure caused by the input is a :class:`CmsError` whose ``disposition`` is the RFC 4130
section 7.5 error modifier to report in an MDN; messages name what failed and never carry key
material or payload bytes. A foreign exception (asn1crypto, cryptography, ``ValueError``...)
raised by malformed input is translated, so a caller only ever sees a :class:`CmsError`.
"""

from __future__ import annotations

import hmac
import os
import re
import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, core, parser
from asn1crypto import cms as asn1cms
from asn1crypto import x509 as asn1x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.errors import TransportError
from gateway.transports.as2.certificates import (
    PrivateKey,
    describe,
    key_matches,
    printable,
    serial_text,
    validity_problem,
)

DIGESTS: tuple[str, ...] = ("sha1", "sha224", "sha256", "sha384", "sha512", "md5")
"""Digest names as this module spells them; ``md5`` is accepted for verification only."""

CIPHERS: tuple[str, ...] = ("aes128-cbc", "aes192-cbc", "aes256-cbc", "des-ede3-cbc")
"""Content-encryption algorithms for :func:`encrypt` and :func:`decrypt`."""

KEY_ENCRYPTIONS: tuple[str, ...] = ("rsa-pkcs1v15", "rsa-oaep", "rsa-oaep-sha256")
"""Key-transport algorithms: RSA PKCS#1 v1.5; RSAES-OAEP with SHA-1 (the RFC 4055 defaults);
RSAES-OAEP with SHA-256 and MGF1-SHA-256."""

_SIGNING_DIGESTS = ("sha1", "sha224", "sha256", "sha384", "sha512")

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "md5": hashes.MD5,
}

_MICALG = {
    "sha1": "sha-1",
    "sha224": "sha-224",
    "sha256": "sha-256",
    "sha384": "sha-384",
    "sha512": "sha-512",
    "md5": "md5",
}

# asn1crypto names of the signature algorithms, by the key family they need.
_RSA_PKCS1 = frozenset(
    {
        "rsassa_pkcs1v15",
        "md5_rsa",
        "sha1_rsa",
        "sha224_rsa",
        "sha256_rsa",
        "sha384_rsa",
        "sha512_rsa",
    }
)
_ECDSA = frozenset(
    {"ecdsa", "sha1_ecdsa", "sha224_ecdsa", "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"}
)

_UNEXPECTED = "unexpected-processing-error"
_OID = re.compile(r"[0-2](\.[0-9]+)+")


# --------------------------------------------------------------------------------- errors


class CmsError(TransportError):
    """A CMS structure cannot be produced or accepted. ``disposition`` is the RFC 4130
    section 7.5 error modifier an MDN reports for it."""

    disposition: str = _UNEXPECTED


class AuthenticationFailed(CmsError):
    """The signature cannot be accepted: unknown or untrusted signer, certificate outside its
    validity, bad signature or malformed signed data."""

    disposition = "authentication-failed"


class DecryptionFailed(CmsError):
    """The enveloped data cannot be decrypted with our key, for whatever reason."""

    disposition = "decryption-failed"


class DecompressionFailed(CmsError):
    """The compressed data is malformed, uses another algorithm, or inflates past the limit."""

    disposition = "decompression-failed"


class IntegrityCheckFailed(CmsError):
    """The signature is genuine but the signed messageDigest is not the digest of the content:
    the content changed after it was signed."""

    disposition = "integrity-check-failed"


class UnsupportedAlgorithm(CmsError):
    """An algorithm we do not support or do not accept; ``algorithm`` names it."""

    disposition = _UNEXPECTED

    def __init__(self, message: str, *, algorithm: str) -> None:
        super().__init__(message)
        self.algorithm = algorithm


# -------------------------------------------------------------------------------- digests


def normalise_digest(name: str) -> str:
    """Our name for a digest: ``'SHA-256'``, ``'sha-256'``, ``'SHA256'`` -> ``'sha256'``;
    ``'sha-1'`` -> ``'sha1'``; ``'md5'`` -> ``'md5'``. Raises :class:`UnsupportedAlgorithm`
    for any other name."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key in DIGESTS:
        return key
    shown = printable(str(name), 40)
    raise UnsupportedAlgorithm(f"unsupported digest algorithm {shown!r}", algorithm=shown)


def micalg_name(digest: str) -> str:
    """The RFC 5751/8551 ``micalg`` token for a digest: ``'sha-256'``, ``'sha-1'``,
    ``'sha-224'``, ``'sha-384'``, ``'sha-512'`` or ``'md5'``."""
    return _MICALG[normalise_digest(digest)]


def digest(data: bytes, name: str) -> bytes:
    """The raw digest of ``data`` with the digest ``name`` (any spelling
    :func:`normalise_digest` accepts)."""
    hasher = hashes.Hash(_hash(normalise_digest(name)))
    hasher.update(data)
    return hasher.finalize()


# -------------------------------------------------------------------------------- signing


@dataclass(frozen=True)
class Signer:
    """Our signing identity: a certificate and its private key (RSA, or EC)."""

    certificate: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class Verified:
    """A signature that verified: the trusted ``certificate`` that verified it, the
    ``digest`` used (our name, e.g. ``'sha256'``) and the signed ``signing_time`` if any."""

    certificate: x509.Certificate
    digest: str
    signing_time: datetime | None


def sign(
    content: bytes, signer: Signer, digest_name: str, *, signing_time: datetime | None = None
) -> bytes:
    """A detached CMS SignedData over exactly ``content`` (a ContentInfo, DER).

    SignedData version 1 with no eContent; one SignerInfo identified by issuerAndSerialNumber,
    with the signed attributes contentType (data), signingTime (``signing_time``, default now)
    and messageDigest; RSA PKCS#1 v1.5 (signatureAlgorithm rsaEncryption, as openssl writes it)
    or ECDSA over the DER SET OF those attributes; the signer's certificate in
    ``certificates``. Digests: sha1, sha224, sha256, sha384, sha512; anything else (md5
    included) raises :class:`UnsupportedAlgorithm`; a key that is not the certificate's
    raises :class:`CmsError` (nobody could verify the signature).
    """
    name = normalise_digest(digest_name)
    if name not in _SIGNING_DIGESTS:
        raise UnsupportedAlgorithm(f"{name} is accepted for verification only", algorithm=name)
    if not key_matches(signer.certificate, signer.key):
        raise CmsError(
            f"our private key is not the key of our certificate {describe(signer.certificate)}"
        )
    certificate = _asn1_certificate(signer.certificate)
    attributes = _signed_attributes(content, name, signing_time or datetime.now(UTC))
    # RFC 5652 section 5.4: the signature covers the DER of the attributes as a SET OF
    # (asn1crypto sorts SET OF elements by their encoding, as DER requires).
    signature, signature_algorithm = _sign_bytes(signer.key, attributes.dump(), name)
    signer_info = asn1cms.SignerInfo(
        {
            "version": "v1",
            "sid": _issuer_and_serial(certificate),
            "digest_algorithm": _digest_algorithm(name),
            "signed_attrs": attributes,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    signed_data = asn1cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [_digest_algorithm(name)],
            "encap_content_info": {"content_type": "data"},
            "certificates": [asn1cms.CertificateChoices(name="certificate", value=certificate)],
            "signer_infos": [signer_info],
        }
    )
    return asn1cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def verify(
    content: bytes | None,
    signed_data: bytes,
    trusted: Sequence[x509.Certificate],
    *,
    now: datetime,
    allowed_digests: Collection[str] = _SIGNING_DIGESTS,
) -> Verified:
    """Verify a CMS SignedData (ContentInfo, DER or BER) over ``content``.

    The signature is detached: ``content`` is what was signed. When ``content`` is ``None``
    the SignedData's own eContent is used; when both exist, ``content`` wins.

    The signer is looked up only among ``trusted`` (by issuerAndSerialNumber or
    subjectKeyIdentifier); a certificate carried in the message is never trusted by itself.
    With signed attributes the signature is checked over their DER as a SET OF (RFC 5652
    section 5.4), then the messageDigest attribute against the digest of ``content``;
    without them the signature covers ``content`` itself. RSA PKCS#1 v1.5, RSA-PSS (with the
    parameters of its AlgorithmIdentifier) and ECDSA are supported.

    Raises :class:`AuthenticationFailed` when no trusted certificate matches the signer, the
    matching one is not valid at ``now`` (expired or not yet valid, with the date), the
    signature does not verify, or the structure is malformed; :class:`IntegrityCheckFailed`
    when the signature verifies but the messageDigest is not the content's digest;
    :class:`UnsupportedAlgorithm` for a digest not in ``allowed_digests`` or an unknown
    signature algorithm.
    """
    allowed = frozenset(normalise_digest(name) for name in allowed_digests)
    with _malformed(AuthenticationFailed, "CMS signed data"):
        signed = _content_of(signed_data, "signed_data", AuthenticationFailed)
        encapsulated = signed["encap_content_info"]
        if content is None:
            content = _encapsulated_content(encapsulated, AuthenticationFailed)
        signer_infos = list(signed["signer_infos"])
        if not signer_infos:
            raise AuthenticationFailed("CMS signed data has no signer")
        return _verify_any(signer_infos, content, encapsulated, trusted, now, allowed)


def _verify_any(
    signer_infos: list[asn1cms.SignerInfo],
    content: bytes,
    encapsulated: core.Sequence,
    trusted: Sequence[x509.Certificate],
    now: datetime,
    allowed: frozenset[str],
) -> Verified:
    """The first SignerInfo whose signer is trusted and that verifies; else the first error."""
    matched = [(info, _matching(info["sid"], trusted)) for info in signer_infos]
    usable = [(info, certificates) for info, certificates in matched if certificates]
    if not usable:
        known = ", ".join(describe(c) for c in trusted) or "none configured"
        raise AuthenticationFailed(
            f"signer {_describe_identifier(signer_infos[0]['sid'])} is not among the partner's "
            f"trusted certificates ({known})"
        )
    first_error: CmsError | None = None
    for info, certificates in usable:
        try:
            return _verify_signer_info(info, certificates, content, encapsulated, now, allowed)
        except CmsError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _verify_signer_info(
    info: asn1cms.SignerInfo,
    candidates: list[x509.Certificate],
    content: bytes,
    encapsulated: core.Sequence,
    now: datetime,
    allowed: frozenset[str],
) -> Verified:
    """Check one SignerInfo against the trusted certificates that match its identifier."""
    digest_name = _accepted_digest(info["digest_algorithm"], allowed)
    valid = [c for c in candidates if validity_problem(c, now) is None]
    if not valid:
        problem = validity_problem(candidates[0], now)
        raise AuthenticationFailed(f"certificate {describe(candidates[0])} {problem}")
    attributes = info["signed_attrs"]
    has_attributes = not isinstance(attributes, core.Void)
    covered = _signed_attribute_encodings(attributes) if has_attributes else [content]
    certificate = _verifying_certificate(info, valid, covered, digest_name, allowed)
    if certificate is None:
        raise AuthenticationFailed(
            f"signature does not verify against the partner's certificate {describe(valid[0])}"
        )
    signing_time = None
    if has_attributes:
        signing_time = _check_attributes(attributes, content, encapsulated, digest_name)
    return Verified(certificate=certificate, digest=digest_name, signing_time=signing_time)


def _verifying_certificate(
    info: asn1cms.SignerInfo,
    certificates: list[x509.Certificate],
    covered: list[bytes],
    digest_name: str,
    allowed: frozenset[str],
) -> x509.Certificate | None:
    """The first of ``certificates`` whose key verifies the signature over one of the
    ``covered`` encodings."""
    signature = bytes(info["signature"])
    algorithm = info["signature_algorithm"]
    for certificate in certificates:
        for data in covered:
            if _signature_ok(certificate, algorithm, signature, data, digest_name, allowed):
                return certificate
    return None


def _check_attributes(
    attributes: asn1cms.CMSAttributes,
    content: bytes,
    encapsulated: core.Sequence,
    digest_name: str,
) -> datetime | None:
    """RFC 5652 section 5.3/5.4: contentType must be the eContentType and messageDigest the
    digest of the content. Returns the signingTime, if present."""
    values = _attribute_values(attributes)
    content_types = values.get("content_type", [])
    digests = values.get("message_digest", [])
    if len(content_types) != 1 or len(digests) != 1:
        raise AuthenticationFailed(
            "signed attributes must hold exactly one contentType and one messageDigest"
        )
    if content_types[0].dotted != encapsulated["content_type"].dotted:
        raise AuthenticationFailed("signed contentType attribute differs from the eContentType")
    if not hmac.compare_digest(bytes(digests[0]), digest(content, digest_name)):
        raise IntegrityCheckFailed(
            f"content {digest_name} digest does not match the signed messageDigest: "
            "the content was altered after it was signed"
        )
    times = values.get("signing_time", [])
    return times[0].native if times else None


def _attribute_values(attributes: asn1cms.CMSAttributes) -> dict[str, list[core.Asn1Value]]:
    """Attribute values by attribute type; a type may appear only once (RFC 5652 5.3)."""
    values: dict[str, list[core.Asn1Value]] = {}
    for attribute in attributes:
        kind = attribute["type"].native
        if kind in values:
            raise AuthenticationFailed(f"signed attribute {kind} appears more than once")
        values[kind] = list(attribute["values"])
    return values


def _signed_attribute_encodings(attributes: asn1cms.CMSAttributes) -> list[bytes]:
    """The bytes the signature covers: the signed attributes with their [0] IMPLICIT tag
    replaced by the SET OF tag 0x31 (RFC 5652 section 5.4). The attributes as received come
    first; their DER re-encoding (sorted, definite lengths) second, for signers that sent
    BER or an unsorted SET."""
    as_received = parser.emit(0, 1, 17, attributes.contents)  # universal, constructed, SET
    der = asn1cms.CMSAttributes.load(as_received).dump(force=True)
    return [as_received] if der == as_received else [as_received, der]


def _signature_ok(
    certificate: x509.Certificate,
    algorithm: algos.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
    digest_name: str,
    allowed: frozenset[str],
) -> bool:
    """Whether ``signature`` over ``data`` verifies with the certificate's public key."""
    name = algorithm["algorithm"].native
    public_key = certificate.public_key()
    try:
        if name in _RSA_PKCS1 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), _hash(digest_name))
        elif name == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            pss, pss_hash = _pss(algorithm["parameters"], allowed)
            public_key.verify(signature, data, pss, pss_hash)
        elif name in _ECDSA and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(_hash(digest_name)))
        elif name in _RSA_PKCS1 or name == "rsassa_pss" or name in _ECDSA:
            return False  # the algorithm does not fit this certificate's key
        else:
            shown = printable(str(name), 60)
            raise UnsupportedAlgorithm(f"unsupported signature algorithm {shown}", algorithm=shown)
    except (InvalidSignature, ValueError):
        return False
    return True


def _pss(
    parameters: algos.RSASSAPSSParams, allowed: frozenset[str]
) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    """RSASSA-PSS padding and hash from the AlgorithmIdentifier parameters (RFC 4055 3.1)."""
    hash_name = _accepted_digest(parameters["hash_algorithm"], allowed)
    mask = parameters["mask_gen_algorithm"]
    if mask["algorithm"].native != "mgf1":
        shown = mask["algorithm"].dotted
        raise UnsupportedAlgorithm(f"unsupported PSS mask generation {shown}", algorithm=shown)
    mask_hash = _accepted_digest(mask["parameters"], allowed)
    if parameters["trailer_field"].native != "trailer_field_bc":
        raise AuthenticationFailed("unsupported RSASSA-PSS trailer field")
    salt = parameters["salt_length"].native
    pss = padding.PSS(mgf=padding.MGF1(_hash(mask_hash)), salt_length=salt)
    return pss, _hash(hash_name)


def _accepted_digest(algorithm: algos.DigestAlgorithm, allowed: frozenset[str]) -> str:
    """Our name of a digest AlgorithmIdentifier, if it is known and allowed."""
    name = algorithm["algorithm"].native
    if name not in DIGESTS or name not in allowed:
        shown = printable(str(name), 60)
        accepted = ", ".join(sorted(allowed))
        raise UnsupportedAlgorithm(
            f"digest algorithm {shown} is not accepted (accepted: {accepted})", algorithm=shown
        )
    return name


def _signed_attributes(content: bytes, name: str, when: datetime) -> asn1cms.CMSAttributes:
    """contentType, signingTime and messageDigest (RFC 5652 sections 11.1 to 11.3)."""
    return asn1cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [_cms_time(when)]},
            {"type": "message_digest", "values": [digest(content, name)]},
        ]
    )


def _cms_time(when: datetime) -> asn1cms.Time:
    """RFC 5652 section 11.3: UTCTime for 1950 to 2049, GeneralizedTime otherwise."""
    moment = _utc(when).replace(microsecond=0)
    choice = "utc_time" if 1950 <= moment.year <= 2049 else "generalized_time"
    return asn1cms.Time(name=choice, value=moment)


def _sign_bytes(
    key: PrivateKey, data: bytes, name: str
) -> tuple[bytes, algos.SignedDigestAlgorithm]:
    """Sign ``data``; also the signatureAlgorithm to write (rsaEncryption, as openssl does,
    or ecdsa-with-SHA*)."""
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), _hash(name))
        return signature, algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(_hash(name)))
        return signature, algos.SignedDigestAlgorithm({"algorithm": f"{name}_ecdsa"})
    kind = type(key).__name__
    raise UnsupportedAlgorithm(f"cannot sign with a {kind} key", algorithm=kind)


# ----------------------------------------------------------------------------- encryption


@dataclass(frozen=True)
class _CipherSpec:
    name: str  # ours, e.g. "aes256-cbc"
    asn1_name: str  # asn1crypto's name of the OID
    key_size: int
    block_size: int


_CIPHER_SPECS = (
    _CipherSpec("aes128-cbc", "aes128_cbc", 16, 16),
    _CipherSpec("aes192-cbc", "aes192_cbc", 24, 16),
    _CipherSpec("aes256-cbc", "aes256_cbc", 32, 16),
    _CipherSpec("des-ede3-cbc", "tripledes_3key", 24, 8),  # RFC 3370 section 5.1
)


@dataclass(frozen=True)
class Decrypted:
    """Decrypted content, with the content ``cipher`` and ``key_encryption`` the sender
    used (our names; an OAEP variant other than ours is named ``rsa-oaep-<hash>[-mgf1-<hash>]``)."""

    content: bytes
    cipher: str
    key_encryption: str


def encrypt(
    content: bytes,
    recipient: x509.Certificate,
    cipher: str = "aes256-cbc",
    key_encryption: str = "rsa-pkcs1v15",
) -> bytes:
    """CMS EnvelopedData (a ContentInfo, DER) of ``content`` for ``recipient``'s RSA key.

    Version 0, one KeyTransRecipientInfo identified by issuerAndSerialNumber, a fresh random
    content-encryption key and IV, CBC with PKCS#7 padding, contentType data. ``cipher`` is
    one of :data:`CIPHERS`, ``key_encryption`` one of :data:`KEY_ENCRYPTIONS`; anything else,
    or a recipient key that is not RSA, raises :class:`UnsupportedAlgorithm`.
    """
    spec = next((s for s in _CIPHER_SPECS if s.name == cipher), None)
    if spec is None:
        raise UnsupportedAlgorithm(f"unsupported content cipher {cipher!r}", algorithm=cipher)
    key_algorithm, rsa_padding = _key_encryption(key_encryption)
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        kind = type(public_key).__name__
        raise UnsupportedAlgorithm(f"cannot encrypt for a {kind} key", algorithm=kind)
    key, iv = _new_content_key(spec), os.urandom(spec.block_size)
    recipient_info = asn1cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": _issuer_and_serial(_asn1_certificate(recipient)),
            "key_encryption_algorithm": key_algorithm,
            "encrypted_key": public_key.encrypt(key, rsa_padding),
        }
    )
    enveloped = asn1cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [asn1cms.RecipientInfo(name="ktri", value=recipient_info)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": spec.asn1_name, "parameters": iv},
                "encrypted_content": _cbc_encrypt(spec, key, iv, content),
            },
        }
    )
    return asn1cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()


def decrypt(enveloped: bytes, certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> Decrypted:
    """Decrypt a CMS EnvelopedData (ContentInfo, DER or BER) addressed to ``certificate``.

    The KeyTransRecipientInfo is the one whose issuerAndSerialNumber or subjectKeyIdentifier
    is ``certificate``'s. Every cipher of :data:`CIPHERS` and key encryption of
    :data:`KEY_ENCRYPTIONS` is supported (OAEP variants are read from their parameters).
    Raises :class:`DecryptionFailed` for everything that goes wrong: not encrypted for
    ``certificate``, ``key`` not its key, unknown algorithm (named by OID), wrong key,
    corrupt data, malformed structure. A content-encryption key that cannot be recovered is
    replaced by a random one (RFC 3218), so a bad key and bad content fail alike; the CBC
    content itself carries no integrity check (the signature does).
    """
    with _malformed(DecryptionFailed, "CMS enveloped data"):
        data = _content_of(enveloped, "enveloped_data", DecryptionFailed)
        recipient = _our_recipient(data["recipient_infos"], certificate)
        if not isinstance(key, rsa.RSAPrivateKey) or not key_matches(certificate, key):
            raise DecryptionFailed(
                f"our private key is not the RSA key of our certificate {describe(certificate)}"
            )
        encrypted = data["encrypted_content_info"]
        spec, iv = _content_cipher(encrypted["content_encryption_algorithm"])
        ciphertext = encrypted["encrypted_content"]
        if isinstance(ciphertext, core.Void):
            raise DecryptionFailed("enveloped data carries no encrypted content")
        key_name, rsa_padding = _key_decryption(recipient["key_encryption_algorithm"])
        content_key = _recover_content_key(
            key, bytes(recipient["encrypted_key"]), rsa_padding, spec
        )
        ciphertext = bytes(ciphertext)
        # The parsed structures each hold their own copy of the content (asn1crypto slices
        # bytes at every level): let them go before decrypting a large message (T11).
        del data, encrypted, recipient
        content = _cbc_decrypt(spec, content_key, iv, ciphertext, certificate)
    return Decrypted(content=content, cipher=spec.name, key_encryption=key_name)


def _our_recipient(
    recipient_infos: asn1cms.RecipientInfos, certificate: x509.Certificate
) -> asn1cms.KeyTransRecipientInfo:
    """The KeyTransRecipientInfo addressed to ``certificate``."""
    seen = []
    for info in recipient_infos:
        if info.name != "ktri":
            seen.append(f"a {info.name} recipient")
            continue
        if _identifies(info.chosen["rid"], certificate):
            return info.chosen
        seen.append(_describe_identifier(info.chosen["rid"]))
    listed = "; ".join(seen) or "none"
    raise DecryptionFailed(
        f"not encrypted for our certificate {describe(certificate)} (recipients: {listed})"
    )


def _content_cipher(algorithm: algos.EncryptionAlgorithm) -> tuple[_CipherSpec, bytes]:
    """The cipher and IV of a content-encryption AlgorithmIdentifier (CBCParameter)."""
    name = algorithm["algorithm"].native
    spec = next((s for s in _CIPHER_SPECS if s.asn1_name == name), None)
    if spec is None:
        raise DecryptionFailed(
            f"unsupported content encryption algorithm {algorithm['algorithm'].dotted}"
        )
    iv = bytes(algorithm["parameters"])
    if len(iv) != spec.block_size:
        raise DecryptionFailed(f"{spec.name} IV must be {spec.block_size} bytes, not {len(iv)}")
    return spec, iv


def _key_encryption(name: str) -> tuple[asn1cms.KeyEncryptionAlgorithm, padding.AsymmetricPadding]:
    """The keyEncryptionAlgorithm to write and the RSA padding for one of KEY_ENCRYPTIONS."""
    if name == "rsa-pkcs1v15":  # rsaEncryption, NULL parameters (RFC 3370 section 4.2.1)
        algorithm = asn1cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"})
        return algorithm, padding.PKCS1v15()
    if name == "rsa-oaep":
        # RFC 4055 section 4.1: all defaults (SHA-1, MGF1-SHA-1, empty label) are written as
        # an empty RSAES-OAEP-params SEQUENCE; the parameters must be present.
        parameters = algos.RSAESOAEPParams.load(b"\x30\x00")
        return _oaep_identifier(parameters), _oaep("sha1", "sha1", None)
    if name == "rsa-oaep-sha256":
        sha256 = _digest_algorithm("sha256")
        parameters = algos.RSAESOAEPParams(
            {
                "hash_algorithm": sha256,
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": sha256},
            }
        )
        return _oaep_identifier(parameters), _oaep("sha256", "sha256", None)
    raise UnsupportedAlgorithm(f"unsupported key encryption {name!r}", algorithm=name)


def _oaep_identifier(parameters: algos.RSAESOAEPParams) -> asn1cms.KeyEncryptionAlgorithm:
    return asn1cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep", "parameters": parameters})


def _key_decryption(
    algorithm: asn1cms.KeyEncryptionAlgorithm,
) -> tuple[str, padding.AsymmetricPadding]:
    """Our name and the RSA padding of a received keyEncryptionAlgorithm."""
    name = algorithm["algorithm"].native
    if name == "rsaes_pkcs1v15":
        return "rsa-pkcs1v15", padding.PKCS1v15()
    if name != "rsaes_oaep":
        raise DecryptionFailed(
            f"unsupported key encryption algorithm {algorithm['algorithm'].dotted}"
        )
    parameters = algorithm["parameters"]
    if isinstance(parameters, core.Void):  # tolerated: absent means all defaults
        parameters = algos.RSAESOAEPParams.load(b"\x30\x00")
    hash_name = _oaep_digest(parameters["hash_algorithm"])
    mask = parameters["mask_gen_algorithm"]
    if mask["algorithm"].native != "mgf1":
        raise DecryptionFailed(f"unsupported OAEP mask generation {mask['algorithm'].dotted}")
    mask_hash = _oaep_digest(mask["parameters"])
    source = parameters["p_source_algorithm"]
    if source["algorithm"].native != "p_specified":
        raise DecryptionFailed(f"unsupported OAEP label source {source['algorithm'].dotted}")
    label = bytes(source["parameters"]) or None
    return _oaep_name(hash_name, mask_hash), _oaep(hash_name, mask_hash, label)


def _oaep_digest(algorithm: algos.DigestAlgorithm) -> str:
    name = algorithm["algorithm"].native
    if name not in _SIGNING_DIGESTS:
        raise DecryptionFailed(f"unsupported OAEP digest {algorithm['algorithm'].dotted}")
    return name


def _oaep_name(hash_name: str, mask_hash: str) -> str:
    if (hash_name, mask_hash) == ("sha1", "sha1"):
        return "rsa-oaep"
    if hash_name == mask_hash:
        return f"rsa-oaep-{hash_name}"
    return f"rsa-oaep-{hash_name}-mgf1-{mask_hash}"


def _oaep(hash_name: str, mask_hash: str, label: bytes | None) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(_hash(mask_hash)), algorithm=_hash(hash_name), label=label)


def _recover_content_key(
    key: rsa.RSAPrivateKey,
    encrypted_key: bytes,
    rsa_padding: padding.AsymmetricPadding,
    spec: _CipherSpec,
) -> bytes:
    """The content-encryption key; a random one when it cannot be recovered, so that a bad
    key transport fails exactly like bad content (RFC 3218, against Bleichenbacher's
    million-message attack)."""
    try:
        content_key = key.decrypt(encrypted_key, rsa_padding)
    except ValueError:
        content_key = b""
    if len(content_key) != spec.key_size:
        content_key = _new_content_key(spec)
    return content_key


def _new_content_key(spec: _CipherSpec) -> bytes:
    """A random key; DES keys get odd parity in each byte's low bit (FIPS 46-3), which
    nobody should check but some implementations do."""
    key = os.urandom(spec.key_size)
    if spec.asn1_name != "tripledes_3key":
        return key
    return bytes((b & 0xFE) | (bin(b >> 1).count("1") + 1) % 2 for b in key)


def _block_cipher(spec: _CipherSpec, key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    algorithm = TripleDES(key) if spec.asn1_name == "tripledes_3key" else algorithms.AES(key)
    return Cipher(algorithm, modes.CBC(iv))


def _cbc_encrypt(spec: _CipherSpec, key: bytes, iv: bytes, content: bytes) -> bytes:
    """CBC with PKCS#7 padding (RFC 5652 section 6.3)."""
    padder = block_padding.PKCS7(spec.block_size * 8).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = _block_cipher(spec, key, iv).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _cbc_decrypt(
    spec: _CipherSpec, key: bytes, iv: bytes, ciphertext: bytes, certificate: x509.Certificate
) -> bytes:
    """The inverse of :func:`_cbc_encrypt`; any failure is the same DecryptionFailed."""
    if not ciphertext or len(ciphertext) % spec.block_size:
        raise DecryptionFailed(
            f"{spec.name} ciphertext length {len(ciphertext)} is not a multiple of the block size"
        )
    decryptor = _block_cipher(spec, key, iv).decryptor()
    # CBC hands back every whole block from update(); finalize() adds nothing. The padding
    # (PKCS #7, RFC 5652 section 6.3) is checked and cut here rather than by concatenating
    # the outputs of a decryptor and an unpadder: a large message (T11: up to the 50 MB body
    # limit) is then held twice at most, not four times.
    padded = decryptor.update(ciphertext)
    tail = decryptor.finalize()
    if tail:
        padded += tail
    count = padded[-1] if padded else 0
    if not 1 <= count <= spec.block_size or not hmac.compare_digest(
        padded[-count:], bytes((count,)) * count
    ):
        raise DecryptionFailed(
            f"cannot decrypt with the key of our certificate {describe(certificate)}: "
            "wrong key or corrupt data"
        )
    return padded[:-count]


# ---------------------------------------------------------------------------- compression


def compress(content: bytes) -> bytes:
    """RFC 3274 CompressedData (a ContentInfo id-ct-compressedData, DER): version 0,
    id-alg-zlibCompress without parameters, eContentType data, eContent the zlib stream."""
    compressed = asn1cms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": zlib.compress(content)},
        }
    )
    return asn1cms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump()


def decompress(compressed: bytes, *, max_size: int) -> bytes:
    """The content of an RFC 3274 CompressedData (ContentInfo, DER or BER).

    Inflates incrementally and stops as soon as the output would pass ``max_size`` bytes,
    so a zip bomb is never expanded. Raises :class:`DecompressionFailed` for malformed data,
    an algorithm other than zlib, a truncated or over-long stream, or output over the limit.
    """
    if max_size < 0:
        raise ValueError("max_size must not be negative")
    with _malformed(DecompressionFailed, "CMS compressed data"):
        data = _content_of(compressed, "compressed_data", DecompressionFailed)
        algorithm = data["compression_algorithm"]["algorithm"]
        if algorithm.native != "zlib":
            raise DecompressionFailed(
                f"unsupported compression algorithm {algorithm.dotted} (RFC 3274 zlib only)"
            )
        stream = _encapsulated_content(data["encap_content_info"], DecompressionFailed)
        return _inflate(stream, max_size)


def _inflate(stream: bytes, max_size: int) -> bytes:
    """zlib-inflate ``stream``, never producing more than ``max_size`` + 1 bytes."""
    inflater = zlib.decompressobj()
    output = bytearray()
    pending = stream
    while True:
        output += inflater.decompress(pending, max_size + 1 - len(output))
        if len(output) > max_size:
            raise DecompressionFailed(f"decompressed content exceeds the limit of {max_size} bytes")
        pending = inflater.unconsumed_tail
        if inflater.eof or not pending:
            break
    if not inflater.eof:
        raise DecompressionFailed("compressed content is truncated (zlib stream incomplete)")
    if inflater.unused_data:
        raise DecompressionFailed("compressed content has data after the end of the zlib stream")
    return bytes(output)


# -------------------------------------------------------------------------------- parsing


def content_type(der: bytes) -> str:
    """The contentType of a CMS ContentInfo: ``'signed_data'``, ``'enveloped_data'``,
    ``'compressed_data'``, ``'data'``, another asn1crypto name, or the dotted OID of an
    unknown one. Raises :class:`CmsError` when ``der`` is not a ContentInfo."""
    with _malformed(CmsError, "CMS ContentInfo"):
        return _content_info(der, CmsError)["content_type"].native


@contextmanager
def _malformed(error: type[CmsError], what: str) -> Iterator[None]:
    """Translate any foreign exception raised while reading input into ``error``; the
    message names the structure and the exception type, never the data."""
    try:
        yield
    except CmsError:
        raise
    except Exception as exc:
        raise error(f"malformed {what} ({type(exc).__name__})") from exc


def _content_info(der: bytes, error: type[CmsError]) -> asn1cms.ContentInfo:
    """``der`` parsed as a ContentInfo (nothing may follow it) with a well-formed OID."""
    if not isinstance(der, bytes | bytearray | memoryview):
        raise error(f"expected a CMS structure as bytes, got {type(der).__name__}")
    info = asn1cms.ContentInfo.load(bytes(der), strict=True)
    if not _OID.fullmatch(info["content_type"].dotted):
        raise error("not a CMS ContentInfo: its contentType is not a valid OID")
    return info


def _content_of(der: bytes, expected: str, error: type[CmsError]) -> core.Asn1Value:
    """The content of a ContentInfo whose contentType must be ``expected``."""
    info = _content_info(der, error)
    kind = info["content_type"].native
    if kind != expected:
        raise error(f"expected CMS {expected}, got {printable(str(kind), 60)}")
    content = info["content"]
    if isinstance(content, core.Void):
        raise error(f"CMS {expected} has no content")
    return content


def _encapsulated_content(encapsulated: core.Sequence, error: type[CmsError]) -> bytes:
    """The eContent octets (constructed BER chunks merged)."""
    value = encapsulated["content"]
    if isinstance(value, core.Void):
        raise error("the encapsulated content is absent (detached) and none was given")
    if isinstance(value, core.OctetString | core.ParsableOctetString):
        return bytes(value)
    raise error(f"encapsulated content is a {type(value).__name__}, not an OCTET STRING")


# -------------------------------------------------------------------- identifiers, helpers


def _asn1_certificate(certificate: x509.Certificate) -> asn1x509.Certificate:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return asn1x509.Certificate.load(der)


def _issuer_and_serial(certificate: asn1x509.Certificate) -> dict[str, object]:
    """A SignerIdentifier / RecipientIdentifier choice: issuerAndSerialNumber."""
    return {
        "issuer_and_serial_number": {
            "issuer": certificate.issuer,
            "serial_number": certificate.serial_number,
        }
    }


def _matching(
    identifier: core.Choice, trusted: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The ``trusted`` certificates a SignerIdentifier designates."""
    return [certificate for certificate in trusted if _identifies(identifier, certificate)]


def _identifies(identifier: core.Choice, certificate: x509.Certificate) -> bool:
    """Whether a SignerIdentifier/RecipientIdentifier designates ``certificate``: same
    issuer (compared as RFC 5280 names) and serial, or same subjectKeyIdentifier."""
    if identifier.name == "issuer_and_serial_number":
        chosen = identifier.chosen
        if chosen["serial_number"].native != certificate.serial_number:
            return False
        return chosen["issuer"] == _asn1_certificate(certificate).issuer
    if identifier.name == "subject_key_identifier":
        return bytes(identifier.chosen) == _subject_key_identifier(certificate)
    return False


def _subject_key_identifier(certificate: x509.Certificate) -> bytes:
    """The certificate's subjectKeyIdentifier, or the RFC 5280 method 1 value when absent."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return extension.value.digest
    except (x509.ExtensionNotFound, ValueError):
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _describe_identifier(identifier: core.Choice) -> str:
    """A SignerIdentifier/RecipientIdentifier for messages."""
    try:
        if identifier.name == "issuer_and_serial_number":
            chosen = identifier.chosen
            issuer = _name_text(chosen["issuer"])
            return f"issued by {issuer}, serial {serial_text(chosen['serial_number'].native)}"
        return f"with subject key identifier {bytes(identifier.chosen).hex(':')[:95]}"
    except Exception:
        return "(unreadable identifier)"


def _name_text(name: asn1x509.Name) -> str:
    """``CN=...`` of an asn1crypto Name, or its human-friendly form without a CN."""
    for rdn in name.chosen:
        for pair in rdn:
            if pair["type"].native == "common_name":
                return "CN=" + printable(str(pair["value"].native))
    return printable(name.human_friendly)


def _digest_algorithm(name: str) -> algos.DigestAlgorithm:
    """A digest AlgorithmIdentifier with absent parameters, as RFC 3370 section 2.1 (SHA-1)
    and RFC 5754 section 2 (SHA-2) require of generators; asn1crypto would write NULL."""
    oid = algos.DigestAlgorithmId(name).dump()
    return algos.DigestAlgorithm.load(parser.emit(0, 1, 16, oid))  # SEQUENCE { OID }


def _hash(name: str) -> hashes.HashAlgorithm:
    return _HASHES[name]()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
