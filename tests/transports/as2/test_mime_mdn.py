"""MIME entities as exact bytes and the MDN request/disposition grammar (RFC 2046, RFC 4130
section 7): what the MIC and the signatures depend on."""

from __future__ import annotations

import pytest

from gateway.transports.as2.mdn import Disposition, MdnError, read_request
from gateway.transports.as2.mic import Mic, MicError
from gateway.transports.as2.mime import (
    MimeError,
    decode_transfer,
    entity_with_headers,
    join_multipart,
    parse_entity,
    split_multipart,
)


def multipart(body: bytes, boundary: str = "b1") -> bytes:
    return f'Content-Type: multipart/signed; boundary="{boundary}"\r\n\r\n'.encode() + body


def test_parts_keep_their_exact_bytes_and_the_crlf_before_a_delimiter_is_not_theirs() -> None:
    first = b"Content-Type: application/edi-x12\r\n\r\nISA*00~\r\nGS*PO~\r\n"
    second = b"Content-Type: application/pkcs7-signature\r\n\r\nMIIB"
    raw = join_multipart([first, second], "b1")
    parts = split_multipart(parse_entity(multipart(raw)))
    assert [p.raw for p in parts] == [first, second]
    assert parts[0].body == b"ISA*00~\r\nGS*PO~\r\n"


def test_a_preamble_an_epilogue_and_lf_line_ends_are_tolerated() -> None:
    body = b"preamble\n--b1\nContent-Type: text/plain\n\nhello\n--b1\nX: y\n\nz\n--b1--\nepilogue"
    parts = split_multipart(parse_entity(multipart(body)))
    assert [p.raw for p in parts] == [b"Content-Type: text/plain\n\nhello", b"X: y\n\nz"]
    assert parts[0].content_type == "text/plain" and parts[0].body == b"hello"


def test_a_boundary_inside_a_line_is_not_a_delimiter() -> None:
    body = b"--b1\r\n\r\nsee --b1 here\r\n--b1--\r\n"
    [part] = split_multipart(parse_entity(multipart(body)))
    assert part.body == b"see --b1 here"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"Content-Type: multipart/signed\r\n\r\n--x\r\n\r\na\r\n--x--", "no boundary"),
        (multipart(b"--b1\r\n\r\na\r\n--b1\r\n\r\nb"), "no closing delimiter"),
    ],
)
def test_a_broken_multipart_is_refused_with_its_reason(raw: bytes, message: str) -> None:
    with pytest.raises(MimeError, match=message):
        split_multipart(parse_entity(raw))


def test_an_entity_without_a_blank_line_is_refused() -> None:
    with pytest.raises(MimeError, match="blank line"):
        parse_entity(b"Content-Type: text/plain\r\nno body separator")


def test_entities_are_written_with_crlf_and_read_back_unchanged() -> None:
    entity = entity_with_headers([("Content-Type", "application/edi-x12"),
                                  ("Content-Disposition", 'attachment; filename="a b.edi"')],
                                 b"ISA~\n")  # fmt: skip
    assert entity.raw == (b"Content-Type: application/edi-x12\r\nContent-Disposition: "
                          b'attachment; filename="a b.edi"\r\n\r\nISA~\n')  # fmt: skip
    again = parse_entity(entity.raw)
    assert again == entity and again.filename == "a b.edi"


@pytest.mark.parametrize(
    ("encoding", "body", "decoded"),
    [("base64", b"SVNB\r\nKjAw\r\n", b"ISA*00"), ("binary", b"\x00\xff", b"\x00\xff"),
     ("quoted-printable", b"a=3Db", b"a=b"), (None, b"x", b"x")],
)  # fmt: skip
def test_transfer_encodings_are_undone(encoding: str | None, body: bytes, decoded: bytes) -> None:
    assert decode_transfer(body, encoding) == decoded


def test_bad_base64_and_unknown_encodings_are_refused() -> None:
    with pytest.raises(MimeError, match="base64"):
        decode_transfer(b"@@@", "base64")
    with pytest.raises(MimeError, match="x-uuencode"):
        decode_transfer(b"x", "x-uuencode")


def test_the_mdn_request_is_read_from_the_headers() -> None:
    request = read_request({
        "disposition-notification-to": "edi@amazon.example",
        "disposition-notification-options": "signed-receipt-protocol=required, pkcs7-signature;"
                                            " signed-receipt-micalg=optional, sha-1, sha-256",
        "receipt-delivery-option": "https://as2.amazon.example/mdn",
    })  # fmt: skip
    assert request.wanted and request.signed and request.signed_required
    assert request.micalgs == ("sha-1", "sha-256") and not request.micalg_required
    assert request.url == "https://as2.amazon.example/mdn"
    assert request.mic_algorithm(["sha256"]) == "sha256"
    assert request.mic_algorithm(["sha1", "sha256"]) == "sha1"
    assert request.mic_algorithm(["sha512"]) is None


def test_no_disposition_notification_to_means_no_mdn() -> None:
    request = read_request({})
    assert not request.wanted and not request.signed and request.url is None


@pytest.mark.parametrize(
    ("text", "status", "modifier", "ok"),
    [
        ("automatic-action/MDN-sent-automatically; processed", "processed", None, True),
        ("automatic-action/MDN-sent-automatically; processed/Warning: duplicate-document",
         "processed", "Warning: duplicate-document", True),
        ("automatic-action/MDN-sent-automatically; processed/error: decryption-failed",
         "processed", "error: decryption-failed", False),
        ("automatic-action/MDN-sent-automatically; failed/Failure: unsupported MIC-algorithms",
         "failed", "Failure: unsupported MIC-algorithms", False),
    ],
)  # fmt: skip
def test_dispositions_are_read_and_written_in_the_rfc_4130_grammar(
    text: str, status: str, modifier: str | None, ok: bool
) -> None:
    disposition = Disposition.parse(text)
    assert (disposition.status, disposition.modifier, disposition.ok) == (status, modifier, ok)
    assert str(disposition) == text


def test_a_disposition_that_is_neither_processed_nor_failed_is_refused() -> None:
    with pytest.raises(MdnError):
        Disposition.parse("automatic-action/MDN-sent-automatically; displayed")


def test_mics_compare_whatever_the_spelling_of_the_algorithm() -> None:
    ours = Mic.of(b"content", "sha-1")
    assert Mic.parse(f"{ours.value}, SHA1").matches(ours)
    assert Mic.parse(f"{ours.value}, sha1").matches(ours)
    assert not Mic.parse(f"{ours.value}, sha-256").matches(ours)
    assert str(ours).endswith(", sha-1")


@pytest.mark.parametrize("text", ["no comma", ", sha-256", "not base64!, sha-256"])
def test_an_unreadable_received_content_mic_is_refused(text: str) -> None:
    with pytest.raises(MicError):
        Mic.parse(text)
