"""Loading certificates and keys (PEM, DER, PKCS#8, traditional, encrypted) with clear
ConfigErrors, and the helpers that describe certificates in messages."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.errors import ConfigError
from gateway.transports.as2.certificates import (
    days_left,
    describe,
    fingerprint,
    key_matches,
    load_certificates,
    load_private_key,
    validity_problem,
)
from tests.transports.as2.pki import Identity, make_identity

PASSPHRASE = b"correct horse battery staple"


@pytest.fixture
def partner(tmp_path: Path) -> Identity:
    return make_identity(tmp_path, "partner")


def _public(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# ----------------------------------------------------------------------- load_certificates


def test_load_certificates_reads_one_pem_certificate(partner: Identity) -> None:
    assert load_certificates(partner.cert_path) == [partner.certificate]


def test_load_certificates_reads_every_pem_block_in_order(tmp_path: Path) -> None:
    first = make_identity(tmp_path, "partner")
    second = make_identity(tmp_path, "partner-next")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(first.cert_path.read_bytes() + b"\n" + second.cert_path.read_bytes())
    assert load_certificates(bundle) == [first.certificate, second.certificate]


def test_load_certificates_reads_der(partner: Identity, tmp_path: Path) -> None:
    der = tmp_path / "partner.cer"
    der.write_bytes(partner.certificate.public_bytes(serialization.Encoding.DER))
    assert load_certificates(der) == [partner.certificate]


def test_load_certificates_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_certificates(missing)


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_load_certificates_names_a_file_without_certificates(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_certificates(path)


def test_load_certificates_refuses_a_key_file(partner: Identity) -> None:
    with pytest.raises(ConfigError, match=r"not a PEM or DER X\.509 certificate"):
        load_certificates(partner.key_path)


# ------------------------------------------------------------------------ load_private_key


def test_load_private_key_reads_unencrypted_pkcs8_pem(partner: Identity) -> None:
    key = load_private_key(partner.key_path, None)
    assert _public(key) == _public(partner.key)


def test_load_private_key_reads_encrypted_pem_with_its_passphrase(tmp_path: Path) -> None:
    identity = make_identity(tmp_path, "partner", passphrase=PASSPHRASE)
    assert b"ENCRYPTED" in identity.key_path.read_bytes()
    assert _public(load_private_key(identity.key_path, PASSPHRASE)) == _public(identity.key)


@pytest.mark.parametrize(
    ("encoding", "form"),
    [
        (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
        (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
        (serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL),
    ],
    ids=["der-pkcs8", "pem-traditional", "der-traditional"],
)
def test_load_private_key_reads_other_forms(
    partner: Identity,
    tmp_path: Path,
    encoding: serialization.Encoding,
    form: serialization.PrivateFormat,
) -> None:
    path = tmp_path / "key"
    path.write_bytes(partner.key.private_bytes(encoding, form, serialization.NoEncryption()))
    assert _public(load_private_key(path, None)) == _public(partner.key)


def test_load_private_key_reads_encrypted_der_pkcs8(partner: Identity, tmp_path: Path) -> None:
    path = tmp_path / "key.der"
    path.write_bytes(
        partner.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
    )
    assert _public(load_private_key(path, PASSPHRASE)) == _public(partner.key)
    with pytest.raises(ConfigError, match="wrong passphrase"):
        load_private_key(path, b"not it")


def test_load_private_key_reads_ec_keys(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert isinstance(load_private_key(path, None), ec.EllipticCurvePrivateKey)


def test_load_private_key_says_a_passphrase_is_missing(tmp_path: Path) -> None:
    identity = make_identity(tmp_path, "partner", passphrase=PASSPHRASE)
    with pytest.raises(ConfigError) as caught:
        load_private_key(identity.key_path, None)
    assert "encrypted; no passphrase given" in str(caught.value)
    assert str(identity.key_path) in str(caught.value)


def test_load_private_key_says_the_passphrase_is_wrong_without_showing_it(tmp_path: Path) -> None:
    identity = make_identity(tmp_path, "partner", passphrase=PASSPHRASE)
    wrong = b"Tr0ub4dor&3"
    with pytest.raises(ConfigError) as caught:
        load_private_key(identity.key_path, wrong)
    message = str(caught.value)
    assert "wrong passphrase" in message and str(identity.key_path) in message
    assert wrong.decode() not in message and PASSPHRASE.decode() not in message


def test_load_private_key_says_a_passphrase_was_given_for_a_plain_key(partner: Identity) -> None:
    with pytest.raises(ConfigError, match="not encrypted, but a passphrase was given"):
        load_private_key(partner.key_path, PASSPHRASE)


@pytest.mark.parametrize("content", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAA==\n"])
def test_load_private_key_names_an_unreadable_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*not a readable private key"):
        load_private_key(path, None)


def test_load_private_key_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.key"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_private_key(missing, None)


def test_load_private_key_refuses_a_certificate_file(partner: Identity) -> None:
    with pytest.raises(ConfigError, match="not a readable private key"):
        load_private_key(partner.cert_path, None)


# ----------------------------------------------------------------------------- describing


def test_fingerprint_is_upper_case_sha256_pairs(partner: Identity) -> None:
    der = partner.certificate.public_bytes(serialization.Encoding.DER)
    expected = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert fingerprint(partner.certificate) == expected
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", expected)


def test_describe_names_the_common_name_and_hex_serial(partner: Identity) -> None:
    serial = partner.certificate.serial_number
    assert describe(partner.certificate) == f"CN=partner, serial 0x{serial:X}"


def _self_signed(subject: x509.Name, serial: int = 0x1F) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_describe_without_common_name_uses_the_subject() -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")])
    assert describe(_self_signed(subject)) == "O=Acme, serial 0x1F"


def test_describe_escapes_control_characters_and_shortens() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\nINFO forged line")])
    assert describe(_self_signed(name)) == "CN=evil\\x0aINFO forged line, serial 0x1F"
    long = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x" * 64)])
    text = describe(_self_signed(long, serial=2))
    assert text.startswith("CN=xxx") and text.endswith(", serial 0x2") and len(text) < 90


def test_days_left_rounds_down_and_goes_negative(tmp_path: Path) -> None:
    end = datetime(2027, 6, 30, 12, 0, tzinfo=UTC)
    identity = make_identity(
        tmp_path, "partner", not_before=end - timedelta(days=90), not_after=end
    )
    certificate = identity.certificate
    assert days_left(certificate, end - timedelta(days=10)) == 10
    assert days_left(certificate, end - timedelta(days=9, hours=23)) == 9
    assert days_left(certificate, end) == 0
    assert days_left(certificate, end + timedelta(hours=1)) == -1
    assert days_left(certificate, end + timedelta(days=3)) == -3
    assert days_left(certificate, (end - timedelta(days=2)).replace(tzinfo=None)) == 2


def test_validity_problem_says_expired_or_not_yet_valid_with_the_date(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    identity = make_identity(tmp_path, "partner", not_before=start, not_after=end)
    certificate = identity.certificate
    assert validity_problem(certificate, start) is None
    assert validity_problem(certificate, end) is None
    assert validity_problem(certificate, datetime(2026, 6, 1)) is None  # naive means UTC
    assert validity_problem(certificate, end + timedelta(seconds=1)) == "expired on 2026-12-31"
    early = start - timedelta(seconds=1)
    assert validity_problem(certificate, early) == "not valid before 2026-01-01"


def test_validity_problem_compares_aware_times_in_utc(tmp_path: Path) -> None:
    end = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    identity = make_identity(tmp_path, "partner", not_after=end, not_before=end - timedelta(days=1))
    plus_two = datetime(2026, 12, 31, 15, 30, tzinfo=timezone(timedelta(hours=2)))  # 13:30 UTC
    assert validity_problem(identity.certificate, plus_two) == "expired on 2026-12-31"


def test_key_matches_only_the_certificates_own_key(tmp_path: Path) -> None:
    partner = make_identity(tmp_path, "partner")
    stranger = make_identity(tmp_path, "stranger")
    assert key_matches(partner.certificate, partner.key)
    assert not key_matches(partner.certificate, stranger.key)
    assert not key_matches(partner.certificate, ec.generate_private_key(ec.SECP256R1()))
