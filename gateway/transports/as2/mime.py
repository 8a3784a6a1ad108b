"""MIME entities as exact bytes (RFC 2045, 2046, 1847), for AS2.

The MIC of RFC 4130 section 7.3.1 and every signature are computed over the bytes exactly as
they were sent, so an entity is never parsed into objects and serialised again
(reliability.md 1.1 and 2: newline rewriting breaks MICs, pyas2-lib #20/#49). This module
splits and joins bytes; the standard ``email`` package is used only to read header fields
and their parameters.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import email.utils
import quopri
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import Message

from gateway.errors import TransportError


class MimeError(TransportError):
    """An entity cannot be read: no header/body separator, no boundary, no closing
    delimiter, or an undecodable body. The message names what is missing."""


_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_SEPARATOR = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class Entity:
    """A MIME entity: its exact ``raw`` bytes, split into ``header`` (without the blank line)
    and ``body``; ``fields`` reads the header."""

    raw: bytes
    header: bytes
    body: bytes

    @property
    def fields(self) -> Message:
        """The header fields (``email`` message without body), for reading only."""
        return _HEADER_PARSER.parsebytes(self.header + b"\r\n\r\n")

    @property
    def content_type(self) -> str:
        """``type/subtype`` in lower case (``text/plain`` when absent, RFC 2045 5.2)."""
        return self.fields.get_content_type()

    def param(self, name: str) -> str | None:
        """A parameter of Content-Type (``boundary``, ``smime-type``, ``micalg``...)."""
        value = self.fields.get_param(name)
        if value is None or isinstance(value, tuple):
            return None if value is None else email.utils.collapse_rfc2231_value(value)
        return str(value)

    @property
    def filename(self) -> str | None:
        """The Content-Disposition filename, if any."""
        name = self.fields.get_filename()
        return str(name) if name else None

    def decoded_body(self) -> bytes:
        """The body with its Content-Transfer-Encoding undone (base64, quoted-printable;
        7bit, 8bit and binary are the bytes themselves)."""
        return decode_transfer(self.body, self.fields.get("Content-Transfer-Encoding"))


def parse_entity(raw: bytes) -> Entity:
    """Split ``raw`` at the first blank line into header and body. An entity that starts
    with a blank line has no header fields."""
    if raw.startswith(b"\r\n") or raw.startswith(b"\n"):
        return Entity(raw, b"", raw[2:] if raw.startswith(b"\r\n") else raw[1:])
    match = _SEPARATOR.search(raw)
    if match is None:
        raise MimeError("MIME entity has no blank line between its header and its body")
    return Entity(raw, raw[: match.start()], raw[match.end() :])


def entity_with_headers(fields: Sequence[tuple[str, str]], body: bytes) -> Entity:
    """A new entity from header ``fields`` and ``body``, CRLF line ends (canonical form)."""
    header = b"\r\n".join(f"{name}: {value}".encode("ascii") for name, value in fields)
    raw = header + b"\r\n\r\n" + body
    return Entity(raw, header, body)


def from_http(content_type: str, body: bytes, transfer_encoding: str | None = None) -> Entity:
    """The entity an HTTP message carries: its Content-Type (and, rarely, its
    Content-Transfer-Encoding) header with the body (RFC 4130 section 5.2)."""
    fields = [("Content-Type", content_type)]
    if transfer_encoding:
        fields.append(("Content-Transfer-Encoding", transfer_encoding))
    return entity_with_headers(fields, body)


_WHITESPACE = b" \t\n\r\x0b\x0c"


def decode_transfer(body: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding (RFC 2045 section 6)."""
    name = (encoding or "binary").strip().lower()
    if name in ("binary", "8bit", "7bit"):
        return body
    if name == "base64":
        try:
            # Whitespace (what rb"\s" matches) dropped in one pass: a regular expression
            # substitution builds a piece per line first, several times the body (T11).
            return base64.b64decode(body.translate(None, _WHITESPACE), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MimeError(f"body is not valid base64: {exc}") from None
    if name == "quoted-printable":
        return quopri.decodestring(body)
    raise MimeError(f"unknown Content-Transfer-Encoding {name!r}")


def base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters ending in CRLF (RFC 2045 section 6.8)."""
    text = base64.b64encode(data)
    return b"".join(text[i : i + 76] + b"\r\n" for i in range(0, len(text), 76))


def new_boundary() -> str:
    """A boundary that cannot occur in base64 or in X12 by chance (RFC 2046 5.1.1)."""
    return f"----=_acorn_{secrets.token_hex(16)}"


def split_multipart(entity: Entity) -> list[Entity]:
    """The body parts of a multipart entity, each as its exact bytes (RFC 2046 5.1.1: the
    line break before a delimiter belongs to the delimiter, not to the part). Accepts LF line
    ends as well as CRLF. Raises :class:`MimeError` without a boundary or a closing
    delimiter."""
    boundary = entity.param("boundary")
    if not boundary:
        raise MimeError(f"{entity.content_type} has no boundary parameter")
    body = entity.body
    marker = b"--" + boundary.encode("ascii", "replace")
    positions: list[tuple[int, int, bool]] = []  # (part end, next part start, is closing)
    start = 0
    while True:
        at = body.find(marker, start)
        if at < 0:
            break
        line_start = at == 0 or body[at - 1 : at] == b"\n"
        if not line_start:
            start = at + len(marker)
            continue
        end_of_part = at
        if at >= 1 and body[at - 1 : at] == b"\n":
            end_of_part = at - 2 if at >= 2 and body[at - 2 : at] == b"\r\n" else at - 1
        after = at + len(marker)
        closing = body[after : after + 2] == b"--"
        line_end = body.find(b"\n", after)
        next_start = len(body) if line_end < 0 else line_end + 1
        positions.append((end_of_part, next_start, closing))
        if closing:
            break
        start = next_start
    if not positions or not positions[-1][2]:
        raise MimeError(f"multipart body has no closing delimiter for boundary {boundary!r}")
    return [
        parse_entity(body[positions[i][1] : positions[i + 1][0]])
        for i in range(len(positions) - 1)
    ]


def join_multipart(parts: Iterable[bytes], boundary: str) -> bytes:
    """A multipart body of ``parts`` (each an entity's exact bytes) with CRLF delimiters."""
    marker = f"--{boundary}".encode("ascii")
    pieces = [marker + b"\r\n" + part + b"\r\n" for part in parts]
    return b"".join(pieces) + marker + b"--\r\n"
