"""AS2 interoperability with an independent implementation: the ``openssl cms`` command line.

The other side ("Amazon") is played by ``openssl cms`` (sign, encrypt, decrypt, verify) and
by code in this file: MIME splitting (RFC 2046), MICs (RFC 4130 section 7.3.1) with
:mod:`hashlib`, compressed data (RFC 3274) with asn1crypto and :mod:`zlib`, and the MDN it
returns. Nothing of ``gateway.transports.as2`` is used on that side, so a mistake shared by
our builder and our reader cannot make these tests pass.

* openssl -> us: a message signed and encrypted by openssl is posted with :mod:`http.client`
  to our real endpoint (uvicorn); the MDN must verify with ``openssl cms -verify`` against
  our certificate and carry the MIC this file computes; the payload is stored byte for byte
  and processed into a purchase order.
* us -> openssl: what our sending path posts is decrypted and verified by openssl, the
  payload comes out byte for byte, and the MDN openssl signs is accepted as a receipt.

Each with SHA-256 and SHA-1, AES-256-CBC and 3DES. openssl options worth knowing:

* ``-binary`` everywhere: no newline translation of the content (an X12 payload with LF
  line ends, or binary DER, stays as it is).
* ``-crlfeol`` when signing (CRLF in the S/MIME output) *and when verifying*: openssl's
  multipart reader in ``-binary`` mode without ``-crlfeol`` keeps the CR of the CRLF that
  precedes a delimiter (it belongs to the delimiter, RFC 2046), so the content it digests
  gains a trailing CR and a correct signature fails to verify.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import shutil
import subprocess
import threading
import traceback
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from asn1crypto import cms as asn1_cms

from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.sending import send
from tests.pipeline.as2_sim import Site, as2_site, serving
from tests.transports.as2.pki import Identity

OPENSSL = shutil.which("openssl")
GOLDEN = Path(__file__).resolve().parents[2] / "sandbox_fixtures" / "golden"
PO_850 = GOLDEN / "850" / "cn_consigned_cases.edi"
POA_855 = GOLDEN / "855" / "one_line.edi"

#: (our digest name, the MIC algorithm token of RFC 5751)
DIGESTS = {"sha256": "sha-256", "sha1": "sha-1"}
#: our cipher name -> openssl's option
CIPHERS = {"aes256-cbc": "-aes256", "des-ede3-cbc": "-des3"}
#: every digest with every cipher
CASES = [
    pytest.param(digest, cipher, id=f"{digest}-{cipher}")
    for digest in DIGESTS
    for cipher in CIPHERS
]
#: openssl -> us: the same, each digest and each cipher once with LF and once with CRLF
#: line ends inside the payload
INBOUND_CASES = [
    pytest.param("sha256", "aes256-cbc", b"\n", id="sha256-aes256-cbc-lf"),
    pytest.param("sha256", "des-ede3-cbc", b"\r\n", id="sha256-des-ede3-cbc-crlf"),
    pytest.param("sha1", "aes256-cbc", b"\r\n", id="sha1-aes256-cbc-crlf"),
    pytest.param("sha1", "des-ede3-cbc", b"\n", id="sha1-des-ede3-cbc-lf"),
]
ID_ZLIB = "1.2.840.113549.1.9.16.3.8"
ENVELOPED = 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'


@pytest.fixture(autouse=True)
def _openssl_installed() -> None:
    if OPENSSL is None:
        pytest.skip("openssl not installed")


# ------------------------------------------------------------------ independent helpers


def openssl_ok(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``openssl <args>`` and require exit status 0 (stderr in the failure message)."""
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 0, (
        f"openssl {' '.join(map(str, args))} exited {done.returncode}: "
        f"{done.stderr.decode(errors='replace')}"
    )
    return done


def split_entity(raw: bytes) -> tuple[Message, bytes]:
    """A MIME entity (CRLF line ends) as its parsed header fields and its exact body."""
    end = raw.index(b"\r\n\r\n")
    return BytesHeaderParser().parsebytes(raw[: end + 4]), raw[end + 4 :]


def body_parts(raw: bytes) -> list[bytes]:
    """The body parts of a multipart entity, each as its exact bytes. RFC 2046 5.1.1: the
    CRLF before a delimiter belongs to the delimiter, not to the part before it."""
    header, body = split_entity(raw)
    boundary = header.get_param("boundary")
    assert isinstance(boundary, str), f"no boundary in {header.get('Content-Type')!r}"
    delimiter = b"\r\n--" + boundary.encode("ascii")
    parts = []
    for piece in (b"\r\n" + body).split(delimiter)[1:]:
        if piece.startswith(b"--"):
            return parts
        line_end = piece.index(b"\r\n")
        assert piece[:line_end].strip(b" \t") == b"", "text after a delimiter"
        parts.append(piece[line_end + 2 :])
    raise AssertionError("multipart body without a closing delimiter")


def header_value(header: Message, name: str) -> str:
    """A header field's value with any folding undone (fit for an HTTP header)."""
    value = header.get(name)
    assert value is not None, f"no {name} field"
    return re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()


def mic(data: bytes, digest: str) -> str:
    """base64 of the ``digest`` (hashlib name) of ``data``: the value of a MIC."""
    return base64.b64encode(hashlib.new(digest, data).digest()).decode("ascii")


def fields(block: bytes) -> dict[str, str]:
    """``Name: value`` lines (folded lines joined), names in lower case."""
    found: dict[str, str] = {}
    last = None
    for line in block.decode("ascii").split("\r\n"):
        if line[:1] in (" ", "\t") and last:
            found[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            found[last] = value.strip()
    return found


def compressed_data(content: bytes) -> bytes:
    """RFC 3274 CompressedData (version 0, id-alg-zlibCompress) of ``content`` in a
    ContentInfo, DER."""
    compressed = asn1_cms.CompressedData({
        "version": "v0",
        "compression_algorithm": {"algorithm": ID_ZLIB},
        "encap_content_info": {"content_type": "data", "content": zlib.compress(content)},
    })  # fmt: skip
    return asn1_cms.ContentInfo({"content_type": "compressed_data",
                                 "content": compressed}).dump()  # fmt: skip


def decompressed_data(der: bytes) -> bytes:
    """The content of an RFC 3274 CompressedData ContentInfo (zlib)."""
    info = asn1_cms.ContentInfo.load(der)
    assert info["content_type"].dotted == "1.2.840.113549.1.9.16.1.9"
    compressed = info["content"]
    assert compressed["version"].native == "v0"
    assert compressed["compression_algorithm"]["algorithm"].dotted == ID_ZLIB
    assert compressed["encap_content_info"]["content_type"].native == "data"
    return zlib.decompress(compressed["encap_content_info"]["content"].native)


def po_number(x12: bytes) -> str:
    """BEG03 of an 850 (separators read from the ISA segment)."""
    element, terminator = x12[3:4], x12[105:106]
    for segment in x12.split(terminator):
        elements = segment.strip().split(element)
        if elements[0] == b"BEG":
            return elements[3].decode("ascii")
    raise AssertionError("no BEG segment")


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'a.db'}"


# ------------------------------------------------------------------ openssl -> our endpoint


@dataclass
class AmazonMessage:
    """A message as openssl built it: what was signed, the multipart/signed, the DER."""

    message_id: str
    signed_eml: bytes
    body: bytes

    @property
    def signed_entity(self) -> bytes:
        """The first body part of openssl's multipart/signed: what the MIC covers."""
        return body_parts(self.signed_eml)[0]


def openssl_message(
    work: Path, site: Site, entity: bytes, digest: str, cipher: str
) -> AmazonMessage:
    """``entity`` signed with Amazon's key and encrypted for our certificate, by openssl."""
    amazon = site.partner_identities[0]
    work.mkdir(parents=True, exist_ok=True)
    (work / "entity").write_bytes(entity)
    openssl_ok("cms", "-sign", "-binary", "-crlfeol", "-in", work / "entity",
               "-signer", amazon.cert_path, "-inkey", amazon.key_path, "-md", digest,
               "-out", work / "signed.eml")  # fmt: skip
    openssl_ok("cms", "-encrypt", "-binary", "-in", work / "signed.eml", "-outform", "DER",
               CIPHERS[cipher], "-out", work / "enc.der", site.identity.cert_path)  # fmt: skip
    return AmazonMessage(f"<{uuid.uuid4().hex}@amazon>", (work / "signed.eml").read_bytes(),
                         (work / "enc.der").read_bytes())  # fmt: skip


def post_as_amazon(url: str, message: AmazonMessage, micalg: str) -> tuple[int, str, bytes]:
    """POST the message with plain http.client; the answer's status, Content-Type, body."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=60)
    try:
        connection.request("POST", where.path, body=message.body, headers={
            "AS2-Version": "1.1", "AS2-From": "AMAZON", "AS2-To": "ACMEVENDOR",
            "Message-ID": message.message_id, "Content-Type": ENVELOPED,
            "MIME-Version": "1.0",
            "Disposition-Notification-To": "edi@amazon.example",
            "Disposition-Notification-Options": "signed-receipt-protocol=optional, "
            f"pkcs7-signature; signed-receipt-micalg=optional, {micalg}",
        })  # fmt: skip
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def verified_mdn(work: Path, site: Site, content_type: str, body: bytes) -> dict[str, str]:
    """Verify the MDN with ``openssl cms -verify`` against our certificate (exit 0
    required) and return the fields of its message/disposition-notification part."""
    (work / "mdn.eml").write_bytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1") + body
    )
    openssl_ok("cms", "-verify", "-binary", "-crlfeol", "-in", work / "mdn.eml",
               "-CAfile", site.identity.cert_path, "-purpose", "any",
               "-out", work / "report.eml")  # fmt: skip
    report = (work / "report.eml").read_bytes()
    header, _ = split_entity(report)
    assert header.get_content_type() == "multipart/report"
    assert header.get_param("report-type") == "disposition-notification"
    notifications = [
        part for part in body_parts(report)
        if split_entity(part)[0].get_content_type() == "message/disposition-notification"
    ]  # fmt: skip
    assert len(notifications) == 1, report
    return fields(split_entity(notifications[0])[1])


def stored_inbound_payloads(pipeline: Pipeline) -> list[bytes]:
    """The payloads of the inbound exchanges the AS2 endpoint stored."""
    with pipeline.store.transaction() as tx:
        rows = tx.as2_messages(direction="in")
        assert [row.status for row in rows] == ["processed"], rows
        return [tx.payload(row.exchange_id) for row in rows if row.exchange_id is not None]


@pytest.mark.parametrize(("digest", "cipher", "eol"), INBOUND_CASES)
def test_message_signed_and_encrypted_by_openssl_is_accepted_with_an_mdn_openssl_verifies(
    tmp_path: Path, digest: str, cipher: str, eol: bytes
) -> None:
    """openssl signs (``digest``) and encrypts (``cipher``) an 850 for us; our endpoint
    answers 200 with a signed MDN that ``openssl cms -verify`` accepts against our
    certificate, whose disposition is ``processed``, whose Original-Message-ID is the one
    sent and whose Received-Content-MIC is the digest of openssl's signed entity computed
    here; the payload is stored byte for byte and becomes a purchase order for the ERP."""
    payload = PO_850.read_bytes().replace(b"\n", eol)
    assert (b"\r\n" in payload) == (eol == b"\r\n")
    site = as2_site(tmp_path / "acme", sqlite_url(tmp_path))
    entity = (b"Content-Type: application/edi-x12\r\n"
              b'Content-Disposition: attachment; filename="po.edi"\r\n\r\n' + payload)  # fmt: skip
    message = openssl_message(tmp_path / "amazon", site, entity, digest, cipher)
    assert message.signed_entity == entity  # openssl signed our bytes as they are
    with serving(site) as served:
        status, content_type, body = post_as_amazon(served.url, message, DIGESTS[digest])
        assert status == 200, body
        assert content_type.startswith("multipart/signed"), content_type
        report = verified_mdn(tmp_path / "amazon", site, content_type, body)
        assert report["disposition"] == "automatic-action/MDN-sent-automatically; processed"
        assert report["original-message-id"] == message.message_id
        assert report["received-content-mic"] == (
            f"{mic(message.signed_entity, digest)}, {DIGESTS[digest]}"
        )
    pipeline = served.pipeline
    try:
        assert stored_inbound_payloads(pipeline) == [payload]
        run_once(pipeline)
        orders = [json.loads(p.read_text("utf-8")) for p in site.erp_inbox.iterdir()]
        assert len(orders) == 1, orders
        assert orders[0]["type"] == "purchase_order"
        assert orders[0]["po_number"] == po_number(payload)
    finally:
        pipeline.store.dispose()


def test_compressed_message_from_openssl_is_accepted_and_its_payload_stored_unchanged(
    tmp_path: Path,
) -> None:
    """An RFC 3274 compressed-data entity built here (asn1crypto + zlib), signed then
    encrypted by openssl (RFC 5402: compress before signing) is opened by our endpoint:
    processed, the MIC covers the signed compressed entity, the payload is stored byte for
    byte."""
    payload = PO_850.read_bytes()
    inner = (b"Content-Type: application/edi-x12\r\n"
             b'Content-Disposition: attachment; filename="po.edi"\r\n\r\n' + payload)  # fmt: skip
    entity = (b'Content-Type: application/pkcs7-mime; smime-type=compressed-data; '
              b'name="smime.p7z"\r\nContent-Transfer-Encoding: binary\r\n\r\n'
              + compressed_data(inner))  # fmt: skip
    site = as2_site(tmp_path / "acme", sqlite_url(tmp_path))
    message = openssl_message(tmp_path / "amazon", site, entity, "sha256", "aes256-cbc")
    assert message.signed_entity == entity
    with serving(site) as served:
        status, content_type, body = post_as_amazon(served.url, message, "sha-256")
        assert status == 200, body
        report = verified_mdn(tmp_path / "amazon", site, content_type, body)
        assert report["disposition"] == "automatic-action/MDN-sent-automatically; processed"
        assert report["received-content-mic"] == f"{mic(entity, 'sha256')}, sha-256"
    try:
        assert stored_inbound_payloads(served.pipeline) == [payload]
    finally:
        served.pipeline.store.dispose()


# ------------------------------------------------------------------ us -> openssl


@dataclass
class Seen:
    """One POST the openssl partner received, and what openssl made of it."""

    headers: dict[str, str]
    body: bytes
    decrypted: bytes = b""
    #: the first part of the decrypted multipart/signed (what the MIC covers)
    signed_entity: bytes = b""
    #: what ``openssl cms -verify`` wrote out (the verified content)
    verified: bytes = b""
    mdn_body: bytes = b""
    mic: str = ""


class _PartnerServer(ThreadingHTTPServer):
    daemon_threads = True
    partner: OpensslAmazon


class _Handler(BaseHTTPRequestHandler):
    server: _PartnerServer

    def do_POST(self) -> None:
        partner = self.server.partner
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            status, answer_headers, answer = partner.answer(headers, body)
        except Exception:
            partner.failures.append(traceback.format_exc())
            status, answer_headers, answer = 500, [("Content-Type", "text/plain")], b"error\n"
        self.send_response(status)
        for name, value in answer_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@dataclass
class OpensslAmazon:
    """Amazon's AS2 endpoint played by openssl: decrypts with Amazon's key, verifies against
    our certificate, and answers with a multipart/report MDN it writes and openssl signs.
    ``mic_over="content"`` makes it digest the signed entity's body only (without its
    header fields), a classic interoperability mistake: the MIC then differs from ours."""

    work: Path
    mic_over: str = "entity"
    requests: list[Seen] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    amazon: Identity | None = None
    acme_cert: Path | None = None

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.server = _PartnerServer(("127.0.0.1", 0), _Handler)
        self.server.partner = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/as2"

    def trust(self, site: Site) -> None:
        """Use Amazon's identity of ``site`` and trust our certificate of ``site``."""
        self.amazon, self.acme_cert = site.partner_identities[0], site.identity.cert_path

    def __enter__(self) -> OpensslAmazon:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(15)

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, list[Any], bytes]:
        assert self.amazon is not None and self.acme_cert is not None
        with self.lock:
            seen = Seen(headers, body)
            self.requests.append(seen)
            folder = self.work / f"request-{len(self.requests)}"
        folder.mkdir()
        (folder / "body.der").write_bytes(body)
        openssl_ok("cms", "-decrypt", "-binary", "-inform", "DER", "-in", folder / "body.der",
                   "-recip", self.amazon.cert_path, "-inkey", self.amazon.key_path,
                   "-out", folder / "dec.eml")  # fmt: skip
        seen.decrypted = (folder / "dec.eml").read_bytes()
        openssl_ok("cms", "-verify", "-binary", "-crlfeol", "-in", folder / "dec.eml",
                   "-CAfile", self.acme_cert, "-purpose", "any",
                   "-out", folder / "content.eml")  # fmt: skip
        seen.verified = (folder / "content.eml").read_bytes()
        seen.signed_entity = body_parts(seen.decrypted)[0]
        options = headers.get("disposition-notification-options", "")
        asked = re.search(r"signed-receipt-micalg\s*=\s*[^,;]*,\s*([^,;\s]+)", options)
        assert asked is not None, options
        micalg = asked.group(1)
        digest = micalg.lower().replace("-", "")
        covered = seen.signed_entity
        if self.mic_over == "content":
            covered = split_entity(covered)[1]
        seen.mic = f"{mic(covered, digest)}, {micalg}"
        report = self.report(headers["message-id"], seen.mic)
        (folder / "report.eml").write_bytes(report)
        openssl_ok("cms", "-sign", "-binary", "-crlfeol", "-in", folder / "report.eml",
                   "-signer", self.amazon.cert_path, "-inkey", self.amazon.key_path,
                   "-md", digest, "-out", folder / "mdn.eml")  # fmt: skip
        mdn_header, seen.mdn_body = split_entity((folder / "mdn.eml").read_bytes())
        return 200, [
            ("AS2-Version", "1.1"), ("AS2-From", "AMAZON"), ("AS2-To", "ACMEVENDOR"),
            ("Message-ID", f"<{uuid.uuid4().hex}@amazon>"), ("MIME-Version", "1.0"),
            ("Content-Type", header_value(mdn_header, "Content-Type")),
        ], seen.mdn_body  # fmt: skip

    @staticmethod
    def report(original_message_id: str, received_mic: str) -> bytes:
        """A multipart/report MDN (RFC 3798, RFC 4130 7.4) saying ``processed``."""
        boundary = f"report-{uuid.uuid4().hex}"
        text = (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                b"The message was received and decrypted by openssl.\r\n")  # fmt: skip
        notification = (
            "Content-Type: message/disposition-notification\r\n\r\n"
            "Reporting-UA: openssl-cms-test\r\n"
            "Original-Recipient: rfc822; AMAZON\r\n"
            "Final-Recipient: rfc822; AMAZON\r\n"
            f"Original-Message-ID: {original_message_id}\r\n"
            f"Received-Content-MIC: {received_mic}\r\n"
            "Disposition: automatic-action/MDN-sent-automatically; processed\r\n"
        ).encode("ascii")
        delimiter = f"--{boundary}".encode("ascii")
        return (
            f'Content-Type: multipart/report; report-type=disposition-notification; '
            f'boundary="{boundary}"\r\n\r\n'.encode("ascii")
            + delimiter + b"\r\n" + text + b"\r\n"
            + delimiter + b"\r\n" + notification + b"\r\n"
            + delimiter + b"--\r\n"
        )  # fmt: skip


def queue_outbound(pipeline: Pipeline, payload: bytes) -> int:
    """An outbound interchange for the partner ``amazon`` waiting in the queue."""
    with pipeline.store.transaction() as tx:
        exchange_id = tx.add_exchange(
            channel="partner", direction="out", kind="x12", partner="amazon", transport="as2",
            file_name="acme_855_000000001.edi", payload=payload,
            sha256=hashlib.sha256(payload).hexdigest(), state="queued",
        )  # fmt: skip
    assert exchange_id is not None
    return exchange_id


@contextmanager
def sending_site(tmp_path: Path, amazon: OpensslAmazon, **partnership: Any) -> Iterator[Pipeline]:
    """Our gateway whose partner ``amazon`` is the openssl endpoint, and its pipeline."""
    site = as2_site(tmp_path / "acme", sqlite_url(tmp_path), amazon_url=amazon.url,
                    partnership={"mdn": "sync", "mdn_signed": True, **partnership})  # fmt: skip
    amazon.trust(site)
    pipeline = site.pipeline()
    try:
        yield pipeline
    finally:
        pipeline.store.dispose()
        site.sock.close()  # never served: our side only sends here


def check_request(seen: Seen) -> None:
    """Our POST carried the AS2 headers of RFC 4130 section 6 and an enveloped-data body."""
    assert seen.headers["as2-version"] == "1.1"
    assert seen.headers["as2-from"] == "ACMEVENDOR"
    assert seen.headers["as2-to"] == "AMAZON"
    assert re.fullmatch(r"<[^<>\s]+@[^<>\s]+>", seen.headers["message-id"])
    assert seen.headers["content-type"].startswith(
        "application/pkcs7-mime; smime-type=enveloped-data"
    ), seen.headers["content-type"]


@pytest.mark.parametrize(("digest", "cipher"), CASES)
def test_message_we_send_is_decrypted_and_verified_by_openssl_and_its_mdn_accepted(
    tmp_path: Path, digest: str, cipher: str
) -> None:
    """Our sending path signs (``digest``) and encrypts (``cipher``) an 855; openssl decrypts
    it with Amazon's key and verifies it against our certificate; the payload comes out byte
    for byte; the MDN openssl signs, with the MIC computed here over the signed entity, is
    accepted: the exchange is ``sent`` and the MDN kept as evidence."""
    payload = POA_855.read_bytes()
    with (
        OpensslAmazon(tmp_path / "amazon") as amazon,
        sending_site(tmp_path, amazon, signature=digest, encryption=cipher) as pipeline,
    ):
        exchange_id = queue_outbound(pipeline, payload)
        assert send(pipeline) == 1, amazon.failures
        assert amazon.failures == []
        (seen,) = amazon.requests
        check_request(seen)
        assert seen.headers["disposition-notification-options"].endswith(
            f"signed-receipt-micalg=optional, {DIGESTS[digest]}"
        )
        header, _ = split_entity(seen.decrypted)
        assert header.get_content_type() == "multipart/signed"
        assert seen.verified == seen.signed_entity  # the verified content is the signed entity
        signed_header, signed_payload = split_entity(seen.signed_entity)
        assert signed_header.get_content_type() == "application/edi-x12"
        assert signed_header.get_filename() == "acme_855_000000001.edi"
        assert signed_payload == payload
        with pipeline.store.transaction() as tx:
            assert tx.exchange(exchange_id).state == "sent"
            (row,) = tx.as2_messages(direction="out")
            assert row.status == "delivered"
            assert row.message_id == seen.headers["message-id"]
            assert row.mic == seen.mic
            stored_mdn = tx.as2_mdn(row.id)
            assert tx.alerts(open_only=True) == []
        assert stored_mdn is not None and stored_mdn.endswith(seen.mdn_body)


def test_mdn_whose_mic_differs_from_ours_fails_the_exchange_with_an_alert(
    tmp_path: Path,
) -> None:
    """An MDN that openssl verifies as Amazon's and that says ``processed``, but whose
    Received-Content-MIC covers the payload without its header fields (not the signed
    entity), is not a receipt: the exchange is ``failed`` and a ``send_failed`` alert is
    open."""
    with (
        OpensslAmazon(tmp_path / "amazon", mic_over="content") as amazon,
        sending_site(tmp_path, amazon, signature="sha256", encryption="aes256-cbc") as pipeline,
    ):
        exchange_id = queue_outbound(pipeline, POA_855.read_bytes())
        assert send(pipeline) == 0
        assert amazon.failures == []
        assert len(amazon.requests) == 1
        with pipeline.store.transaction() as tx:
            exchange = tx.exchange(exchange_id)
            (row,) = tx.as2_messages(direction="out")
            alerts = tx.alerts(open_only=True)
        assert exchange.state == "failed"
        assert "Received-Content-MIC" in (exchange.reason or "")
        assert row.status == "failed"
        assert [(a.kind, a.exchange_id) for a in alerts] == [("send_failed", exchange_id)]


def test_compressed_message_we_send_is_read_by_openssl_and_decompressed_independently(
    tmp_path: Path,
) -> None:
    """With ``compress = true`` what we send, once decrypted and verified by openssl, is an
    RFC 3274 compressed-data entity (signed after compressing, RFC 5402); decompressed here
    with asn1crypto + zlib it holds the payload byte for byte; the MDN is accepted."""
    payload = POA_855.read_bytes()
    with (
        OpensslAmazon(tmp_path / "amazon") as amazon,
        sending_site(
            tmp_path, amazon, signature="sha256", encryption="aes256-cbc", compress=True
        ) as pipeline,
    ):
        exchange_id = queue_outbound(pipeline, payload)
        assert send(pipeline) == 1, amazon.failures
        (seen,) = amazon.requests
        check_request(seen)
        assert seen.verified == seen.signed_entity
        header, der = split_entity(seen.signed_entity)
        assert header.get_content_type() == "application/pkcs7-mime"
        assert header.get_param("smime-type") == "compressed-data"
        assert (header.get("Content-Transfer-Encoding") or "binary").lower() == "binary"
        inner_header, inner_payload = split_entity(decompressed_data(der))
        assert inner_header.get_content_type() == "application/edi-x12"
        assert inner_payload == payload
        with pipeline.store.transaction() as tx:
            assert tx.exchange(exchange_id).state == "sent"
