"""CMS sign/verify, encrypt/decrypt and compress/decompress: round trips, interoperability with
the ``openssl cms`` command as an independent peer, refusals, and fuzzing (only CmsError ever
leaves the module for bad input)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as asn1cms
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.transports.as2 import cms
from tests.transports.as2.pki import Identity, make_identity

CONTENT = (
    b"ISA*00*          *00*          *ZZ*ACORN          *ZZ*AMAZON         *261123*0501*U*00401"
    b"*000000001*0*P*>~\r\nGS*PO*ACORN*AMAZON*20261123*0501*1*X*004010~\r\n"
) + bytes(range(256))  # every byte value, CR LF included: -binary must keep them

NOW = datetime.now(UTC)
SIGNING_DIGESTS = ("sha1", "sha224", "sha256", "sha384", "sha512")
OPENSSL_CIPHERS = {
    "aes128-cbc": "-aes128",
    "aes192-cbc": "-aes192",
    "aes256-cbc": "-aes256",
    "des-ede3-cbc": "-des3",
}
OPENSSL_KEY_OPTIONS = {
    "rsa-pkcs1v15": [],
    "rsa-oaep": ["-keyopt", "rsa_padding_mode:oaep"],
    "rsa-oaep-sha256": [
        "-keyopt",
        "rsa_padding_mode:oaep",
        "-keyopt",
        "rsa_oaep_md:sha256",
        "-keyopt",
        "rsa_mgf1_md:sha256",
    ],
}


@dataclass(frozen=True)
class Pki:
    directory: Path
    ours: Identity
    partner: Identity
    partner_next: Identity  # the partner's next certificate (rollover), another key
    stranger: Identity


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    return Pki(
        directory=directory,
        ours=make_identity(directory, "acorn"),
        partner=make_identity(directory, "partner"),
        partner_next=make_identity(directory, "partner-next"),
        stranger=make_identity(directory, "stranger"),
    )


def openssl(*args: str | Path, cwd: Path, stdin: bytes | None = None) -> bytes:
    """Run ``openssl`` in ``cwd``; skip when it is not installed; fail on a non-zero exit."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    result = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, input=stdin, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def openssl_sign(tmp: Path, identity: Identity, *options: str, content: bytes = CONTENT) -> bytes:
    (tmp / "content").write_bytes(content)
    openssl(
        "cms",
        "-sign",
        "-binary",
        "-in",
        "content",
        "-signer",
        identity.cert_path,
        "-inkey",
        identity.key_path,
        *options,
        "-outform",
        "DER",
        "-out",
        "sig.der",
        cwd=tmp,
    )
    return (tmp / "sig.der").read_bytes()


def openssl_encrypt(
    tmp: Path, identity: Identity, cipher: str, key_encryption: str, *options: str
) -> bytes:
    (tmp / "content").write_bytes(CONTENT)
    openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-in",
        "content",
        "-outform",
        "DER",
        OPENSSL_CIPHERS[cipher],
        "-recip",
        identity.cert_path,
        *OPENSSL_KEY_OPTIONS[key_encryption],
        *options,
        "-out",
        "env.der",
        cwd=tmp,
    )
    return (tmp / "env.der").read_bytes()


def signer(identity: Identity) -> cms.Signer:
    return cms.Signer(certificate=identity.certificate, key=identity.key)


def flip(blob: bytes, part: bytes, offset: int, mask: int = 0x01) -> bytes:
    """``blob`` with the byte at ``offset`` inside its (unique) sub-string ``part`` XOR-ed."""
    start = blob.index(part)
    assert blob.find(part, start + 1) == -1
    changed = bytearray(blob)
    changed[start + offset] ^= mask
    return bytes(changed)


# ------------------------------------------------------------------------------- digests


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("SHA-256", "sha256"),
        ("sha256", "sha256"),
        ("sha-256", "sha256"),
        ("SHA256", "sha256"),
        ("sha1", "sha1"),
        ("sha-1", "sha1"),
        ("SHA-1", "sha1"),
        ("md5", "md5"),
        ("SHA-512", "sha512"),
        ("sha-384", "sha384"),
        ("sha224", "sha224"),
    ],
)
def test_normalise_digest_accepts_the_usual_spellings(given: str, expected: str) -> None:
    assert cms.normalise_digest(given) == expected


@pytest.mark.parametrize("name", ["sha3-256", "md4", "", "rsa-sha256", "sha-256x"])
def test_normalise_digest_refuses_other_names_as_unsupported(name: str) -> None:
    with pytest.raises(cms.UnsupportedAlgorithm) as caught:
        cms.normalise_digest(name)
    assert caught.value.disposition == "unexpected-processing-error"
    assert caught.value.algorithm == name


def test_micalg_names_follow_rfc_5751() -> None:
    assert [cms.micalg_name(d) for d in cms.DIGESTS] == [
        "sha-1",
        "sha-224",
        "sha-256",
        "sha-384",
        "sha-512",
        "md5",
    ]
    assert cms.micalg_name("SHA-256") == "sha-256"


@pytest.mark.parametrize("name", cms.DIGESTS)
def test_digest_is_the_raw_hash(name: str) -> None:
    assert cms.digest(CONTENT, name) == hashlib.new(name, CONTENT).digest()


def test_errors_carry_their_rfc_4130_disposition() -> None:
    assert cms.AuthenticationFailed("x").disposition == "authentication-failed"
    assert cms.DecryptionFailed("x").disposition == "decryption-failed"
    assert cms.DecompressionFailed("x").disposition == "decompression-failed"
    assert cms.IntegrityCheckFailed("x").disposition == "integrity-check-failed"
    assert cms.CmsError("x").disposition == "unexpected-processing-error"
    unsupported = cms.UnsupportedAlgorithm("x", algorithm="md5")
    assert unsupported.disposition == "unexpected-processing-error"
    assert unsupported.algorithm == "md5"


# ------------------------------------------------------------------------ sign and verify


@pytest.mark.parametrize("digest_name", SIGNING_DIGESTS)
def test_sign_then_verify_round_trips_for_every_digest(pki: Pki, digest_name: str) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    signature = cms.sign(CONTENT, signer(pki.ours), digest_name, signing_time=when)
    verified = cms.verify(CONTENT, signature, [pki.ours.certificate], now=NOW)
    assert verified == cms.Verified(pki.ours.certificate, digest_name, when)


def test_sign_writes_a_detached_rfc_5652_signed_data(pki: Pki) -> None:
    """Version 1, no eContent, one SignerInfo by issuerAndSerialNumber with contentType,
    signingTime and messageDigest, rsaEncryption, absent digest parameters, our certificate."""
    der = cms.sign(CONTENT, signer(pki.ours), "sha256")
    info = asn1cms.ContentInfo.load(der)
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    assert signed["version"].native == "v1"
    assert isinstance(signed["encap_content_info"]["content"], core.Void)
    assert signed["encap_content_info"]["content_type"].native == "data"
    assert signed["digest_algorithms"][0].dump() == bytes.fromhex("300b0609608648016503040201")
    (certificate,) = signed["certificates"]
    assert certificate.chosen.dump() == pki.ours.certificate.public_bytes(
        serialization.Encoding.DER
    )
    (signer_info,) = signed["signer_infos"]
    assert signer_info["sid"].name == "issuer_and_serial_number"
    assert signer_info["sid"].chosen["serial_number"].native == pki.ours.certificate.serial_number
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.1.1"
    attributes = {a["type"].native: a["values"] for a in signer_info["signed_attrs"]}
    assert set(attributes) == {"content_type", "signing_time", "message_digest"}
    assert attributes["message_digest"][0].native == hashlib.sha256(CONTENT).digest()
    assert attributes["content_type"][0].native == "data"


def test_sign_refuses_md5(pki: Pki) -> None:
    with pytest.raises(cms.UnsupportedAlgorithm) as caught:
        cms.sign(CONTENT, signer(pki.ours), "md5")
    assert caught.value.algorithm == "md5"


def test_sign_refuses_a_key_that_is_not_the_certificates(pki: Pki) -> None:
    mismatched = cms.Signer(certificate=pki.ours.certificate, key=pki.stranger.key)
    with pytest.raises(cms.CmsError, match="private key is not the key of our certificate"):
        cms.sign(CONTENT, mismatched, "sha256")


def test_sign_writes_generalized_time_after_2049(pki: Pki) -> None:
    when = datetime(2051, 6, 1, tzinfo=UTC)
    signature = cms.sign(CONTENT, signer(pki.ours), "sha256", signing_time=when)
    assert b"\x18\x0f20510601000000Z" in signature
    assert cms.verify(CONTENT, signature, [pki.ours.certificate], now=NOW).signing_time == when


def test_ec_keys_sign_and_verify(pki: Pki, tmp_path: Path) -> None:
    """An ECDSA signer (ecdsa-with-SHA256) verifies with us and with openssl."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec-partner")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    signature = cms.sign(CONTENT, cms.Signer(certificate, key), "sha384")
    assert cms.verify(CONTENT, signature, [certificate], now=NOW).digest == "sha384"
    (tmp_path / "ec.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "sig.der").write_bytes(signature)
    (tmp_path / "content").write_bytes(CONTENT)
    out = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "sig.der",
        "-content",
        "content",
        "-CAfile",
        "ec.pem",
        "-purpose",
        "any",
        cwd=tmp_path,
    )
    assert out == CONTENT


@pytest.mark.parametrize("digest_name", ["sha1", "sha256"])
def test_openssl_signature_verifies(pki: Pki, tmp_path: Path, digest_name: str) -> None:
    signature = openssl_sign(tmp_path, pki.partner, "-md", digest_name)
    detached = asn1cms.ContentInfo.load(signature)["content"]["encap_content_info"]["content"]
    assert isinstance(detached, core.Void)  # -sign is detached unless -nodetach
    verified = cms.verify(CONTENT, signature, [pki.partner.certificate], now=NOW)
    assert verified.certificate == pki.partner.certificate
    assert verified.digest == digest_name
    assert verified.signing_time is not None
    assert abs(verified.signing_time - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize("digest_name", ["sha1", "sha256"])
def test_openssl_signature_over_altered_content_fails_the_integrity_check(
    pki: Pki, tmp_path: Path, digest_name: str
) -> None:
    signature = openssl_sign(tmp_path, pki.partner, "-md", digest_name)
    altered = CONTENT[:10] + bytes([CONTENT[10] ^ 0x20]) + CONTENT[11:]
    with pytest.raises(cms.IntegrityCheckFailed) as caught:
        cms.verify(altered, signature, [pki.partner.certificate], now=NOW)
    assert "altered" in str(caught.value)
    assert CONTENT[:20].decode() not in str(caught.value)


def test_openssl_rsa_pss_signature_verifies(pki: Pki, tmp_path: Path) -> None:
    signature = openssl_sign(
        tmp_path, pki.partner, "-md", "sha256", "-keyopt", "rsa_padding_mode:pss"
    )
    assert b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a" in signature  # id-RSASSA-PSS
    assert cms.verify(CONTENT, signature, [pki.partner.certificate], now=NOW).digest == "sha256"


def test_openssl_signature_by_subject_key_identifier_verifies(pki: Pki, tmp_path: Path) -> None:
    signature = openssl_sign(tmp_path, pki.partner, "-md", "sha256", "-keyid")
    (signer_info,) = asn1cms.ContentInfo.load(signature)["content"]["signer_infos"]
    assert signer_info["sid"].name == "subject_key_identifier"
    verified = cms.verify(
        CONTENT, signature, [pki.stranger.certificate, pki.partner.certificate], now=NOW
    )
    assert verified.certificate == pki.partner.certificate


def test_openssl_signature_without_signed_attributes_covers_the_content(
    pki: Pki, tmp_path: Path
) -> None:
    signature = openssl_sign(tmp_path, pki.partner, "-md", "sha256", "-noattr")
    verified = cms.verify(CONTENT, signature, [pki.partner.certificate], now=NOW)
    assert (verified.digest, verified.signing_time) == ("sha256", None)
    with pytest.raises(cms.AuthenticationFailed, match="does not verify"):
        cms.verify(CONTENT + b"x", signature, [pki.partner.certificate], now=NOW)


def test_openssl_attached_streamed_ber_signature_verifies_its_own_content(
    pki: Pki, tmp_path: Path
) -> None:
    signature = openssl_sign(tmp_path, pki.partner, "-md", "sha256", "-nodetach", "-stream")
    assert signature[:2] == b"\x30\x80"  # BER, indefinite length
    assert cms.verify(None, signature, [pki.partner.certificate], now=NOW).digest == "sha256"
    assert cms.verify(CONTENT, signature, [pki.partner.certificate], now=NOW).digest == "sha256"
    with pytest.raises(cms.IntegrityCheckFailed):
        cms.verify(b"other", signature, [pki.partner.certificate], now=NOW)


@pytest.mark.parametrize("digest_name", SIGNING_DIGESTS)
def test_our_signature_verifies_with_openssl(pki: Pki, tmp_path: Path, digest_name: str) -> None:
    (tmp_path / "sig.der").write_bytes(cms.sign(CONTENT, signer(pki.ours), digest_name))
    (tmp_path / "content").write_bytes(CONTENT)
    out = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "sig.der",
        "-content",
        "content",
        "-CAfile",
        pki.ours.cert_path,
        "-purpose",
        "any",
        cwd=tmp_path,
    )
    assert out == CONTENT


def test_verify_refuses_a_signer_that_is_not_trusted(pki: Pki) -> None:
    """The stranger's certificate travels in the message, but only `trusted` counts."""
    signature = cms.sign(CONTENT, signer(pki.stranger), "sha256")
    with pytest.raises(cms.AuthenticationFailed) as caught:
        cms.verify(CONTENT, signature, [pki.partner.certificate], now=NOW)
    message = str(caught.value)
    assert "CN=stranger" in message and "not among" in message and "CN=partner" in message


def test_verify_refuses_when_nothing_is_trusted(pki: Pki) -> None:
    signature = cms.sign(CONTENT, signer(pki.partner), "sha256")
    with pytest.raises(cms.AuthenticationFailed, match="none configured"):
        cms.verify(CONTENT, signature, [], now=NOW)


def test_verify_refuses_a_certificate_that_expired(pki: Pki, tmp_path: Path) -> None:
    old = make_identity(
        tmp_path,
        "partner",
        not_before=NOW - timedelta(days=400),
        not_after=datetime(2026, 1, 1, tzinfo=UTC),
    )
    signature = cms.sign(CONTENT, signer(old), "sha256")
    with pytest.raises(cms.AuthenticationFailed) as caught:
        cms.verify(CONTENT, signature, [old.certificate], now=datetime(2026, 2, 1, tzinfo=UTC))
    assert "expired on 2026-01-01" in str(caught.value)
    assert "CN=partner" in str(caught.value)


def test_verify_refuses_a_certificate_not_yet_valid(pki: Pki, tmp_path: Path) -> None:
    future = make_identity(
        tmp_path,
        "partner",
        not_before=datetime(2030, 3, 1, tzinfo=UTC),
        not_after=datetime(2031, 3, 1, tzinfo=UTC),
    )
    signature = cms.sign(CONTENT, signer(future), "sha256")
    with pytest.raises(cms.AuthenticationFailed, match="not valid before 2030-03-01"):
        cms.verify(CONTENT, signature, [future.certificate], now=NOW)


def test_verify_accepts_a_naive_now_as_utc(pki: Pki) -> None:
    signature = cms.sign(CONTENT, signer(pki.partner), "sha256")
    naive = datetime.now(UTC).replace(tzinfo=None)
    assert cms.verify(CONTENT, signature, [pki.partner.certificate], now=naive).digest == "sha256"


def test_verify_during_rollover_names_the_certificate_that_signed(pki: Pki) -> None:
    trusted = [pki.partner.certificate, pki.partner_next.certificate]
    signature = cms.sign(CONTENT, signer(pki.partner_next), "sha256")
    assert cms.verify(CONTENT, signature, trusted, now=NOW).certificate == trusted[1]
    signature = cms.sign(CONTENT, signer(pki.partner), "sha256")
    assert cms.verify(CONTENT, signature, trusted, now=NOW).certificate == trusted[0]


def test_verify_refuses_md5_unless_allowed(pki: Pki, tmp_path: Path) -> None:
    signature = openssl_sign(tmp_path, pki.partner, "-md", "md5")
    with pytest.raises(cms.UnsupportedAlgorithm) as caught:
        cms.verify(CONTENT, signature, [pki.partner.certificate], now=NOW)
    assert caught.value.algorithm == "md5"
    allowed = (*SIGNING_DIGESTS, "md5")
    verified = cms.verify(
        CONTENT, signature, [pki.partner.certificate], now=NOW, allowed_digests=allowed
    )
    assert verified.digest == "md5"


def test_verify_refuses_a_digest_outside_allowed_digests(pki: Pki) -> None:
    signature = cms.sign(CONTENT, signer(pki.partner), "sha1")
    with pytest.raises(cms.UnsupportedAlgorithm, match="sha1 is not accepted"):
        cms.verify(
            CONTENT, signature, [pki.partner.certificate], now=NOW, allowed_digests=("sha256",)
        )


def test_verify_refuses_a_corrupted_signature_value(pki: Pki) -> None:
    der = cms.sign(CONTENT, signer(pki.partner), "sha256")
    (signer_info,) = asn1cms.ContentInfo.load(der)["content"]["signer_infos"]
    corrupted = flip(der, bytes(signer_info["signature"]), 100)
    with pytest.raises(cms.AuthenticationFailed) as caught:
        cms.verify(CONTENT, corrupted, [pki.partner.certificate], now=NOW)
    assert "signature does not verify against the partner's certificate CN=partner" in str(
        caught.value
    )


def test_verify_refuses_altered_signed_attributes(pki: Pki) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    der = cms.sign(CONTENT, signer(pki.partner), "sha256", signing_time=when)
    altered = flip(der, b"\x17\x0d260102030405Z", 3)  # the signingTime year
    with pytest.raises(cms.AuthenticationFailed, match="does not verify"):
        cms.verify(CONTENT, altered, [pki.partner.certificate], now=NOW)


def test_verify_accepts_signed_attributes_reencoded_as_ber(pki: Pki) -> None:
    """A relay that re-encodes everything with indefinite lengths does not break the
    signature: the DER re-encoding of the attributes is what was signed (RFC 5652 5.4)."""
    info = asn1cms.ContentInfo.load(cms.sign(CONTENT, signer(pki.partner), "sha256"))
    signed = info["content"]
    (signer_info,) = signed["signer_infos"]
    fields = (
        "version",
        "sid",
        "digest_algorithm",
        "signed_attrs",
        "signature_algorithm",
        "signature",
    )
    parts = [signer_info[field].dump() for field in fields]
    parts[3] = b"\xa0\x80" + signer_info["signed_attrs"].contents + b"\x00\x00"
    signer_infos = b"\x31\x80\x30\x80" + b"".join(parts) + b"\x00\x00" * 2
    head = b"".join(
        signed[field].dump()
        for field in ("version", "digest_algorithms", "encap_content_info", "certificates")
    )
    ber = (
        b"\x30\x80"
        + info["content_type"].dump()
        + b"\xa0\x80\x30\x80"
        + head
        + signer_infos
        + b"\x00\x00" * 3
    )
    assert cms.verify(CONTENT, ber, [pki.partner.certificate], now=NOW).digest == "sha256"


# ---------------------------------------------------------------------- encrypt and decrypt


@pytest.mark.parametrize("cipher", cms.CIPHERS)
@pytest.mark.parametrize("key_encryption", cms.KEY_ENCRYPTIONS)
def test_encrypt_then_decrypt_round_trips(pki: Pki, cipher: str, key_encryption: str) -> None:
    enveloped = cms.encrypt(CONTENT, pki.ours.certificate, cipher, key_encryption)
    decrypted = cms.decrypt(enveloped, pki.ours.certificate, pki.ours.key)
    assert decrypted == cms.Decrypted(CONTENT, cipher, key_encryption)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100_000])
def test_encrypt_then_decrypt_any_length(pki: Pki, size: int) -> None:
    content = os.urandom(size)
    enveloped = cms.encrypt(content, pki.ours.certificate)
    assert cms.decrypt(enveloped, pki.ours.certificate, pki.ours.key).content == content


def test_encrypt_writes_rfc_5652_enveloped_data(pki: Pki) -> None:
    """Version 0, one ktri by issuerAndSerialNumber, default OAEP as an empty SEQUENCE and
    OAEP-SHA-256 with explicit hash and MGF1 parameters (RFC 4055), fresh key and IV."""
    first = cms.encrypt(CONTENT, pki.ours.certificate, "aes256-cbc", "rsa-oaep")
    second = cms.encrypt(CONTENT, pki.ours.certificate, "aes256-cbc", "rsa-oaep")
    enveloped = asn1cms.ContentInfo.load(first)["content"]
    assert enveloped["version"].native == "v0"
    (recipient,) = enveloped["recipient_infos"]
    assert recipient.name == "ktri"
    assert recipient.chosen["rid"].name == "issuer_and_serial_number"
    assert recipient.chosen["key_encryption_algorithm"].dump() == bytes.fromhex(
        "300d06092a864886f70d0101073000"
    )
    encrypted = enveloped["encrypted_content_info"]
    assert encrypted["content_type"].native == "data"
    assert encrypted["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    other = asn1cms.ContentInfo.load(second)["content"]["encrypted_content_info"]
    iv = encrypted["content_encryption_algorithm"]["parameters"].native
    assert iv != other["content_encryption_algorithm"]["parameters"].native
    sha256 = cms.encrypt(CONTENT, pki.ours.certificate, "aes128-cbc", "rsa-oaep-sha256")
    (recipient,) = asn1cms.ContentInfo.load(sha256)["content"]["recipient_infos"]
    assert recipient.chosen["key_encryption_algorithm"]["parameters"].dump() == bytes.fromhex(
        "302ba00d300b0609608648016503040201a11a301806092a864886f70d010108300b0609608648016503040201"
    )
    pkcs1 = cms.encrypt(CONTENT, pki.ours.certificate, "des-ede3-cbc")
    (recipient,) = asn1cms.ContentInfo.load(pkcs1)["content"]["recipient_infos"]
    assert recipient.chosen["key_encryption_algorithm"].dump() == bytes.fromhex(
        "300d06092a864886f70d0101010500"
    )


def test_encrypt_refuses_unknown_algorithms(pki: Pki) -> None:
    with pytest.raises(cms.UnsupportedAlgorithm):
        cms.encrypt(CONTENT, pki.ours.certificate, "rc2-cbc")
    with pytest.raises(cms.UnsupportedAlgorithm):
        cms.encrypt(CONTENT, pki.ours.certificate, "aes128-cbc", "rsa-oaep-md5")


@pytest.mark.parametrize("cipher", cms.CIPHERS)
@pytest.mark.parametrize("key_encryption", cms.KEY_ENCRYPTIONS)
def test_openssl_envelope_decrypts(
    pki: Pki, tmp_path: Path, cipher: str, key_encryption: str
) -> None:
    enveloped = openssl_encrypt(tmp_path, pki.ours, cipher, key_encryption)
    decrypted = cms.decrypt(enveloped, pki.ours.certificate, pki.ours.key)
    assert decrypted == cms.Decrypted(CONTENT, cipher, key_encryption)


def test_openssl_streamed_ber_envelope_decrypts(pki: Pki, tmp_path: Path) -> None:
    enveloped = openssl_encrypt(tmp_path, pki.ours, "aes256-cbc", "rsa-oaep", "-stream")
    assert enveloped[:2] == b"\x30\x80"  # BER, indefinite length, chunked content
    assert cms.decrypt(enveloped, pki.ours.certificate, pki.ours.key).content == CONTENT


def test_openssl_envelope_by_subject_key_identifier_decrypts(pki: Pki, tmp_path: Path) -> None:
    enveloped = openssl_encrypt(tmp_path, pki.ours, "aes128-cbc", "rsa-pkcs1v15", "-keyid")
    (recipient,) = asn1cms.ContentInfo.load(enveloped)["content"]["recipient_infos"]
    assert recipient.chosen["rid"].name == "subject_key_identifier"
    assert cms.decrypt(enveloped, pki.ours.certificate, pki.ours.key).content == CONTENT


@pytest.mark.parametrize("cipher", cms.CIPHERS)
@pytest.mark.parametrize("key_encryption", cms.KEY_ENCRYPTIONS)
def test_our_envelope_decrypts_with_openssl(
    pki: Pki, tmp_path: Path, cipher: str, key_encryption: str
) -> None:
    enveloped = cms.encrypt(CONTENT, pki.partner.certificate, cipher, key_encryption)
    (tmp_path / "env.der").write_bytes(enveloped)
    out = openssl(
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "env.der",
        "-recip",
        pki.partner.cert_path,
        "-inkey",
        pki.partner.key_path,
        cwd=tmp_path,
    )
    assert out == CONTENT


def test_decrypt_refuses_a_message_for_another_recipient(pki: Pki) -> None:
    enveloped = cms.encrypt(CONTENT, pki.partner.certificate)
    with pytest.raises(cms.DecryptionFailed) as caught:
        cms.decrypt(enveloped, pki.ours.certificate, pki.ours.key)
    message = str(caught.value)
    assert "not encrypted for our certificate CN=acorn" in message
    assert "CN=partner" in message


def test_decrypt_refuses_a_key_that_is_not_the_certificates(pki: Pki) -> None:
    enveloped = cms.encrypt(CONTENT, pki.ours.certificate)
    with pytest.raises(cms.DecryptionFailed, match="private key is not the RSA key"):
        cms.decrypt(enveloped, pki.ours.certificate, pki.stranger.key)


def test_decrypt_refuses_corrupted_ciphertext(pki: Pki) -> None:
    """Flipping the high bit of the last byte of the second-to-last block makes the last
    plaintext byte (the padding length) at least 0x80: never valid padding."""
    for cipher in cms.CIPHERS:
        enveloped = cms.encrypt(CONTENT, pki.ours.certificate, cipher)
        encrypted = asn1cms.ContentInfo.load(enveloped)["content"]["encrypted_content_info"]
        ciphertext = encrypted["encrypted_content"].native
        block = 8 if cipher == "des-ede3-cbc" else 16
        corrupted = flip(enveloped, ciphertext, len(ciphertext) - block - 1, 0x80)
        with pytest.raises(cms.DecryptionFailed, match="wrong key or corrupt data"):
            cms.decrypt(corrupted, pki.ours.certificate, pki.ours.key)


@pytest.mark.parametrize("key_encryption", cms.KEY_ENCRYPTIONS)
def test_decrypt_of_a_corrupted_encrypted_key_never_yields_the_content(
    pki: Pki, key_encryption: str
) -> None:
    """RFC 3218: an unrecoverable content key is replaced by a random one, so decryption fails
    like corrupt content (or, once in ~256 times, yields garbage the signature will catch)."""
    enveloped = cms.encrypt(CONTENT, pki.ours.certificate, "aes256-cbc", key_encryption)
    (recipient,) = asn1cms.ContentInfo.load(enveloped)["content"]["recipient_infos"]
    corrupted = flip(enveloped, recipient.chosen["encrypted_key"].native, 50)
    try:
        result = cms.decrypt(corrupted, pki.ours.certificate, pki.ours.key)
    except cms.DecryptionFailed as exc:
        assert "wrong key or corrupt data" in str(exc)
    else:
        assert result.content != CONTENT


def test_decrypt_names_an_unknown_cipher_by_oid(pki: Pki) -> None:
    enveloped = cms.encrypt(CONTENT, pki.ours.certificate, "aes256-cbc")
    aes256_cbc = bytes.fromhex("060960864801650304012a")
    unknown = flip(enveloped, aes256_cbc, len(aes256_cbc) - 1, 0x2A ^ 0x2E)  # ...1.46
    with pytest.raises(cms.DecryptionFailed, match=r"2\.16\.840\.1\.101\.3\.4\.1\.46"):
        cms.decrypt(unknown, pki.ours.certificate, pki.ours.key)


def test_decrypt_refuses_detached_encrypted_content(pki: Pki) -> None:
    enveloped = asn1cms.ContentInfo.load(cms.encrypt(CONTENT, pki.ours.certificate))
    del enveloped["content"]["encrypted_content_info"]["encrypted_content"]
    with pytest.raises(cms.DecryptionFailed, match="no encrypted content"):
        cms.decrypt(enveloped.dump(force=True), pki.ours.certificate, pki.ours.key)


# ------------------------------------------------------------------------------ compression


def test_compress_then_decompress_round_trips() -> None:
    for content in (b"", CONTENT, CONTENT * 1000, os.urandom(50_000)):
        assert cms.decompress(cms.compress(content), max_size=len(content)) == content


def test_compress_writes_rfc_3274_compressed_data() -> None:
    info = asn1cms.ContentInfo.load(cms.compress(CONTENT * 10))
    assert info["content_type"].dotted == "1.2.840.113549.1.9.16.1.9"
    compressed = info["content"]
    assert compressed["version"].native == "v0"
    assert compressed["compression_algorithm"].dump() == bytes.fromhex(
        "300d060b2a864886f70d0109100308"
    )  # id-alg-zlibCompress, no parameters
    encapsulated = compressed["encap_content_info"]
    assert encapsulated["content_type"].dotted == "1.2.840.113549.1.7.1"
    assert zlib.decompress(encapsulated["content"].native) == CONTENT * 10


def _compressed_data(stream: bytes, algorithm: str = "1.2.840.113549.1.9.16.3.8") -> bytes:
    """A CompressedData built independently (asn1crypto + zlib, not our compress)."""
    data = asn1cms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": algorithm},
            "encap_content_info": {"content_type": "data", "content": stream},
        }
    )
    return asn1cms.ContentInfo({"content_type": "compressed_data", "content": data}).dump()


def test_decompress_reads_independently_built_compressed_data() -> None:
    der = _compressed_data(zlib.compress(CONTENT, 9))
    assert cms.decompress(der, max_size=10_000) == CONTENT
    assert cms.content_type(der) == "compressed_data"


def test_decompress_reads_ber_with_chunked_content() -> None:
    stream = zlib.compress(CONTENT)
    pieces = [stream[i : i + 100] for i in range(0, len(stream), 100)]
    assert len(pieces) > 1
    chunks = b"".join(b"\x04" + bytes([len(piece)]) + piece for piece in pieces)
    algorithm = bytes.fromhex("300d060b2a864886f70d0109100308")
    econtent = (
        bytes.fromhex("06092a864886f70d010701")
        + b"\xa0\x80"
        + b"\x24\x80"
        + chunks
        + b"\x00\x00" * 2
    )
    compressed = b"\x30\x80\x02\x01\x00" + algorithm + b"\x30\x80" + econtent + b"\x00\x00" * 2
    ber = (
        b"\x30\x80"
        + bytes.fromhex("060b2a864886f70d0109100109")
        + b"\xa0\x80"
        + compressed
        + b"\x00\x00" * 2
    )
    assert cms.decompress(ber, max_size=len(CONTENT)) == CONTENT


def test_decompress_refuses_a_zip_bomb_without_inflating_it() -> None:
    """100 MB of zeros compress to ~100 kB; with max_size 1 MB the inflation stops early."""
    deflater = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    stream = b"".join(deflater.compress(zeros) for _ in range(100)) + deflater.flush()
    with pytest.raises(cms.DecompressionFailed, match="exceeds the limit of 1048576 bytes"):
        cms.decompress(_compressed_data(stream), max_size=1 << 20)


def test_decompress_limit_is_inclusive() -> None:
    der = cms.compress(CONTENT)
    assert cms.decompress(der, max_size=len(CONTENT)) == CONTENT
    with pytest.raises(cms.DecompressionFailed):
        cms.decompress(der, max_size=len(CONTENT) - 1)


@pytest.mark.parametrize(
    ("der", "message"),
    [
        (_compressed_data(zlib.compress(CONTENT), "1.2.3.4"), "unsupported compression algorithm"),
        (_compressed_data(zlib.compress(CONTENT)[:-10]), "truncated"),
        (_compressed_data(zlib.compress(CONTENT) + b"junk"), "after the end"),
        (_compressed_data(b"not a zlib stream at all"), "malformed"),
    ],
    ids=["other-algorithm", "truncated", "trailing-data", "not-zlib"],
)
def test_decompress_refuses_bad_compressed_data(der: bytes, message: str) -> None:
    with pytest.raises(cms.DecompressionFailed, match=message):
        cms.decompress(der, max_size=1 << 20)


# --------------------------------------------------------------------- malformed input


GARBAGE = [
    b"",
    b"\x00",
    b"\x30",
    b"\x30\x80",
    b"\x30\x03\x06\x01\x80",  # an OID cut in the middle of a sub-identifier
    b"\x30\x02\x06\x00",  # an empty OID
    b"\x30\x84\xff\xff\xff\xff",
    b"-----BEGIN PKCS7-----\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n-----END PKCS7-----\n",
    b"not DER at all",
    bytes(range(256)),
    b"\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02",  # signedData OID, no content
]


def _parsers(pki: Pki) -> dict[str, tuple[Callable[[bytes], object], type[cms.CmsError]]]:
    trusted = [pki.partner.certificate]
    return {
        "verify": (lambda b: cms.verify(CONTENT, b, trusted, now=NOW), cms.AuthenticationFailed),
        "verify-attached": (
            lambda b: cms.verify(None, b, trusted, now=NOW),
            cms.AuthenticationFailed,
        ),
        "decrypt": (
            lambda b: cms.decrypt(b, pki.ours.certificate, pki.ours.key),
            cms.DecryptionFailed,
        ),
        "decompress": (lambda b: cms.decompress(b, max_size=1 << 16), cms.DecompressionFailed),
        "content_type": (cms.content_type, cms.CmsError),
    }


@pytest.mark.parametrize("garbage", GARBAGE)
def test_every_parser_turns_garbage_into_its_cms_error(pki: Pki, garbage: bytes) -> None:
    for name, (parse, error) in _parsers(pki).items():
        if name == "content_type" and garbage == GARBAGE[-1]:
            assert parse(garbage) == "signed_data"  # a ContentInfo header is all it needs
            continue
        with pytest.raises(error):
            parse(garbage)


def test_parsers_refuse_the_wrong_kind_of_structure(pki: Pki) -> None:
    compressed = cms.compress(CONTENT)
    signed = cms.sign(CONTENT, signer(pki.partner), "sha256")
    with pytest.raises(cms.AuthenticationFailed, match="expected CMS signed_data"):
        cms.verify(CONTENT, compressed, [pki.partner.certificate], now=NOW)
    with pytest.raises(cms.DecryptionFailed, match="expected CMS enveloped_data"):
        cms.decrypt(signed, pki.ours.certificate, pki.ours.key)
    with pytest.raises(cms.DecompressionFailed, match="expected CMS compressed_data"):
        cms.decompress(signed, max_size=100)
    with pytest.raises(cms.AuthenticationFailed, match="absent"):
        cms.verify(None, signed, [pki.partner.certificate], now=NOW)


def test_content_type_names_each_structure(pki: Pki) -> None:
    assert cms.content_type(cms.sign(CONTENT, signer(pki.ours), "sha256")) == "signed_data"
    assert cms.content_type(cms.encrypt(CONTENT, pki.ours.certificate)) == "enveloped_data"
    assert cms.content_type(cms.compress(CONTENT)) == "compressed_data"
    data = asn1cms.ContentInfo({"content_type": "data", "content": core.OctetString(b"x")})
    assert cms.content_type(data.dump()) == "data"


@pytest.fixture(scope="module")
def samples(pki: Pki) -> list[bytes]:
    """Valid structures of every kind, for mutation."""
    return [
        cms.sign(CONTENT, signer(pki.partner), "sha256"),
        cms.encrypt(CONTENT, pki.ours.certificate, "aes128-cbc", "rsa-oaep"),
        cms.encrypt(CONTENT, pki.ours.certificate, "des-ede3-cbc"),
        cms.compress(CONTENT),
    ]


def _mutate(data: st.DataObject, base: bytes) -> bytes:
    blob = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        # Half the mutations land in the first 64 bytes, where the headers are.
        end = len(blob) - 1 if data.draw(st.booleans()) else min(len(blob) - 1, 63)
        position = data.draw(st.integers(0, max(end, 0)))
        kind = data.draw(st.sampled_from(["set", "xor", "truncate", "insert", "delete"]))
        if not blob:
            break
        if kind == "set":
            blob[position] = data.draw(st.sampled_from([0x00, 0x80, 0xFF, 0x30, 0x31, 0x04]))
        elif kind == "xor":
            blob[position] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del blob[position:]
        elif kind == "insert":
            blob[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del blob[position]
    return bytes(blob)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_input_only_ever_raises_cms_errors(
    pki: Pki, samples: list[bytes], data: st.DataObject
) -> None:
    if data.draw(st.booleans(), label="random"):
        blob = data.draw(st.binary(max_size=400), label="blob")
    else:
        blob = _mutate(data, data.draw(st.sampled_from(samples), label="sample"))
    for parse, _error in _parsers(pki).values():
        try:
            parse(blob)
        except cms.CmsError as exc:
            assert re.search(r"[\x00-\x08\x0b-\x1f]", str(exc)) is None  # no raw bytes shown
