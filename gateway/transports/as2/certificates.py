"""Certificates and private keys for AS2: loading them, and describing them in messages.

Everything here works on ``cryptography`` objects. Loading failures raise
:class:`gateway.errors.ConfigError` naming the file (a passphrase is never echoed). Dates are
compared in UTC; a naive ``now`` is taken to be UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gateway.errors import ConfigError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The private key types AS2 can use (RSA for everything; EC for signing only)."""

_PEM_MARKER = b"-----BEGIN "


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in ``path``: one or more PEM blocks, or a single DER certificate.

    Raises :class:`ConfigError` naming the path when the file cannot be read or holds no
    certificate.
    """
    data = _read(path, "certificate")
    try:
        if _PEM_MARKER in data:
            certificates = x509.load_pem_x509_certificates(data)
        else:
            certificates = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM or DER X.509 certificate") from exc
    if not certificates:  # pragma: no cover - cryptography raises instead
        raise ConfigError(f"{path}: no certificate found")
    return certificates


def load_private_key(path: Path, passphrase: bytes | None) -> PrivateKey:
    """The RSA or EC private key in ``path`` (PEM or DER; PKCS#8 or traditional OpenSSL form).

    Raises :class:`ConfigError` naming the path when the file cannot be read, the key is
    encrypted and no passphrase was given, the passphrase is wrong, a passphrase was given
    for an unencrypted key, or the key is of another type. The passphrase is never shown.
    """
    data = _read(path, "private key")
    try:
        key = _parse_private_key(data, passphrase)
    except TypeError as exc:  # cryptography: encrypted without password, or the reverse
        if passphrase is None:
            raise ConfigError(f"{path}: the private key is encrypted; no passphrase given") from exc
        raise ConfigError(
            f"{path}: the private key is not encrypted, but a passphrase was given"
        ) from exc
    except (ValueError, _CryptoUnsupported) as exc:
        if passphrase is not None and _is_encrypted(data):
            raise ConfigError(f"{path}: wrong passphrase for the private key") from exc
        raise ConfigError(f"{path}: not a readable private key (PEM or DER)") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path}: unsupported private key type {type(key).__name__} (RSA or EC)")
    return key


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, as upper-case hex pairs joined by ``:``."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def describe(cert: x509.Certificate) -> str:
    """A short name for messages: ``CN=<common name>, serial 0x<hex>`` (the whole subject when
    there is no CN). Control characters are escaped and long names shortened."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names:
        subject = f"CN={names[0].value!s}"
    else:
        subject = cert.subject.rfc4514_string() or "(empty subject)"
    return f"{printable(subject)}, serial {serial_text(cert.serial_number)}"


def serial_text(serial: int) -> str:
    """A serial number as messages show it: ``0x`` and upper-case hex."""
    return f"-0x{-serial:X}" if serial < 0 else f"0x{serial:X}"


def printable(text: str, limit: int = 80) -> str:
    """``text`` safe for a log line: non-printable characters escaped, cut to ``limit``."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def days_left(cert: x509.Certificate, now: datetime) -> int:
    """Whole days from ``now`` until the certificate expires, rounded down (negative once it
    has expired)."""
    return (cert.not_valid_after_utc - _utc(now)) // timedelta(days=1)


def validity_problem(cert: x509.Certificate, now: datetime) -> str | None:
    """``None`` when ``now`` is within the certificate's validity (bounds included), else
    ``"expired on YYYY-MM-DD"`` or ``"not valid before YYYY-MM-DD"``."""
    moment = _utc(now)
    if moment < cert.not_valid_before_utc:
        return f"not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
    if moment > cert.not_valid_after_utc:
        return f"expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    return None


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    """Whether ``key`` is the private half of the certificate's public key (same public
    numbers, compared through their SubjectPublicKeyInfo encoding)."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    try:
        return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)
    except (ValueError, TypeError, AttributeError, _CryptoUnsupported):
        return False


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from exc


def _parse_private_key(data: bytes, passphrase: bytes | None) -> object:
    if _PEM_MARKER in data:
        return serialization.load_pem_private_key(data, password=passphrase)
    return serialization.load_der_private_key(data, password=passphrase)


def _is_encrypted(data: bytes) -> bool:
    """Whether the key file is encrypted (loading it without a passphrase asks for one)."""
    try:
        _parse_private_key(data, None)
    except TypeError:
        return True
    except (ValueError, _CryptoUnsupported):
        return False
    return False


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
