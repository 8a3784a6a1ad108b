"""Test PKI: self-signed identities (certificate, key, PEM files) for the AS2 tests.

RSA key generation is slow, so keys are cached per process: the same ``name`` and
``key_size`` always get the same key, different names get different keys. Pass ``key`` to
choose one explicitly (e.g. a renewed certificate for an existing key).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_KEYS: dict[tuple[str, int], rsa.RSAPrivateKey] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Identity:
    """A self-signed certificate, its key, and where both were written as PEM."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    cert_path: Path
    key_path: Path


def rsa_key(name: str, key_size: int = 2048) -> rsa.RSAPrivateKey:
    """The process-wide RSA key for ``name`` (generated on first use)."""
    with _LOCK:
        key = _KEYS.get((name, key_size))
        if key is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
            _KEYS[(name, key_size)] = key
        return key


def make_identity(
    directory: Path,
    name: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_size: int = 2048,
    passphrase: bytes | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> Identity:
    """A self-signed certificate ``CN=name`` with a random serial, valid from ``not_before``
    (default: a day ago) to ``not_after`` (default: in 365 days), with a subjectKeyIdentifier
    and keyUsage digitalSignature + keyEncipherment; written to ``directory/<name>.cert.pem``
    and ``directory/<name>.key.pem`` (PKCS#8, encrypted when ``passphrase`` is given)."""
    now = datetime.now(UTC)
    key = key or rsa_key(name, key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = x509.KeyUsage(
        digital_signature=True,
        key_encipherment=True,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.cert.pem"
    key_path = directory / f"{name}.key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return Identity(certificate=certificate, key=key, cert_path=cert_path, key_path=key_path)
