"""Bytes to segments: the streaming X12 lexer.

Reads any binary stream in chunks and yields one :class:`Token` per segment, holding at
most one segment (bounded by ``max_segment``) plus one chunk in memory, so a 100 MB file
is read in constant memory.

Delimiters are taken from each interchange's ISA (X12.5 section 3): the element separator
is the byte at offset 3, ISA16 the component separator, the byte at offset 105 the segment
terminator, and ISA11 the repetition separator from version 00402 on. Tolerated, because
real partners send them: a UTF-8 byte order mark, CR / LF / CRLF after terminators, and
blank space between segments. Several interchanges per input are read one after another,
each with its own delimiters.

The lexer raises :class:`~gateway.errors.X12SyntaxError` only where reading cannot go on
(not X12, an ISA cut short, a segment without terminator within ``max_segment``); problems
inside the ISA that still let it be read are returned as :class:`EnvelopeIssue` data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from gateway.errors import X12SyntaxError
from gateway.x12.model import Composite, Delimiters, Element, EnvelopeIssue, Repeated, Segment

ISA_LENGTH = 106
#: Width of ISA01..ISA16 (X12.5 interchange control structure; the ISA is fixed width).
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
#: TA1 note code (element I18) reporting a bad value in ISA01..ISA16.
ISA_TA1_CODES = (
    "010", "011", "012", "013", "005", "006", "007", "008",
    "014", "015", "016", "017", "018", "019", "020", "027",
)  # fmt: skip
DEFAULT_MAX_SEGMENT = 1 << 20
BOM = b"\xef\xbb\xbf"
_SPACE = frozenset(" \t\r\n")
_VERSION = re.compile(r"00[2-9]0[0-9]")


def uses_repetition(version: str) -> bool:
    """True when ISA11 is the repetition separator: ISA12 is a version 00402 or later."""
    return version >= "00402" and _VERSION.fullmatch(version) is not None


def _usable_repetition(char: str) -> bool:
    """ISA11 can separate repetitions only if it cannot occur in data (X12.5 section 3)."""
    return len(char) == 1 and char.isascii() and not char.isalnum() and char not in _SPACE


@dataclass(frozen=True)
class Token:
    """One segment as read, with the interchange delimiters in force.

    For an ISA, ``issues`` holds the problems found in its fixed-width fields.
    """

    segment: Segment
    delimiters: Delimiters
    issues: tuple[EnvelopeIssue, ...] = ()


def _isa_issues(fields: list[str], offset: int, fixed_width: bool) -> list[EnvelopeIssue]:
    """Check ISA01..ISA16 (widths, code values, date and time); one issue per bad field."""
    issues: list[EnvelopeIssue] = []

    def bad(position: int, message: str) -> None:
        name = f"ISA{position:02d}"
        issues.append(
            EnvelopeIssue(
                "interchange", ISA_TA1_CODES[position - 1], f"{name} {message}", offset, "ISA", name
            )
        )

    if not fixed_width:
        issues.append(
            EnvelopeIssue(
                "interchange", "022",
                "ISA is not fixed width (106 characters with its terminator); fields:"
                + ", ".join(f" ISA{i + 1:02d} has {len(f)} of {w}"
                            for i, (f, w) in enumerate(zip(fields, ISA_WIDTHS, strict=True))
                            if len(f) != w),
                offset, "ISA",
            )
        )  # fmt: skip
    for position, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), start=1):
        if len(value) != width:
            bad(position, f"must be {width} characters, found {len(value)} ({value!r})")
    checks = {
        1: (fields[0].isdigit(), "must be a 2-digit qualifier"),
        3: (fields[2].isdigit(), "must be a 2-digit qualifier"),
        5: (fields[4].strip() != "", "sender id qualifier is empty"),
        6: (fields[5].strip() != "", "sender id is empty"),
        7: (fields[6].strip() != "", "receiver id qualifier is empty"),
        8: (fields[7].strip() != "", "receiver id is empty"),
        12: (_VERSION.fullmatch(fields[11]) is not None, f"{fields[11]!r} is not an X12 version"),
        13: (fields[12].isdigit(), f"{fields[12]!r} is not a 9-digit control number"),
        14: (fields[13] in ("0", "1"), f"{fields[13]!r} is not 0 or 1"),
        15: (fields[14] in ("P", "T", "I"), f"{fields[14]!r} is not P, T or I"),
    }
    for position, (ok, message) in checks.items():
        if not ok and len(fields[position - 1]) == ISA_WIDTHS[position - 1]:
            bad(position, message)
    try:
        datetime.strptime(fields[8] + fields[9], "%y%m%d%H%M")
    except ValueError:
        bad(9 if not _is_date(fields[8]) else 10, f"{fields[8]!r}/{fields[9]!r} is no date/time")
    isa11_width_ok = len(fields[10]) == 1  # a wrong width is reported above
    if isa11_width_ok and fields[11] < "00402" and fields[10] != "U":
        bad(11, f"must be 'U' before version 00402, found {fields[10]!r}")
    elif isa11_width_ok and uses_repetition(fields[11]) and not _usable_repetition(fields[10]):
        bad(11, f"{fields[10]!r} cannot be the repetition separator (letter, digit or blank)")
    reported = {issue.element for issue in issues}
    for position, value in enumerate(fields, start=1):
        # Bytes above 0x7F were decoded as U+FFFD: the ISA is ASCII (e.g. no NBSP padding).
        if "\ufffd" in value and f"ISA{position:02d}" not in reported:
            bad(position, f"contains a byte that is not ASCII ({value!r})")
    return issues


def is_version(value: str) -> bool:
    """True when ``value`` is an X12 interchange control version (ISA12), e.g. ``00401``."""
    return _VERSION.fullmatch(value) is not None


def _is_date(yymmdd: str) -> bool:
    try:
        datetime.strptime(yymmdd, "%y%m%d")
    except ValueError:
        return False
    return True


class Lexer:
    """Iterate the segments of a binary stream; see the module docstring.

    ``stream`` is read with ``read(chunk_size)`` until it returns ``b""``.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        chunk_size: int = 1 << 16,
        max_segment: int = DEFAULT_MAX_SEGMENT,
    ) -> None:
        self._stream = stream
        self._chunk = chunk_size
        self._max = max_segment
        self._buf = b""
        self._pos = 0  # read position inside _buf
        self._base = 0  # absolute offset of _buf[0]
        self._eof = False

    # -- buffer management ---------------------------------------------------------------

    def _fill(self, need: int) -> bool:
        """Make at least ``need`` bytes available from the read position; False at EOF."""
        while len(self._buf) - self._pos < need and not self._eof:
            data = self._stream.read(max(self._chunk, need))
            if not data:
                self._eof = True
                break
            self._base += self._pos
            self._buf = self._buf[self._pos :] + data
            self._pos = 0
        return len(self._buf) - self._pos >= need

    @property
    def offset(self) -> int:
        """Absolute byte offset of the read position."""
        return self._base + self._pos

    def _skip_space(self, keep: Delimiters | None) -> bool:
        """Skip blanks between segments (never a delimiter); False at EOF."""
        blanks = _SPACE - set(keep.all()) if keep else _SPACE
        while True:
            if not self._fill(1):
                return False
            buf, pos = self._buf, self._pos
            end = len(buf)
            while pos < end and chr(buf[pos]) in blanks:
                pos += 1
            self._pos = pos
            if pos < end:
                return True

    # -- the ISA ----------------------------------------------------------------------

    def _read_isa(self) -> Token:
        start = self.offset
        available = self._fill(ISA_LENGTH)
        head = self._buf[self._pos : self._pos + ISA_LENGTH]
        if not head.startswith(b"ISA"):
            preview = head[:20].decode("utf-8", "backslashreplace")
            raise X12SyntaxError(
                f"expected an interchange header 'ISA', found {preview!r}", offset=start
            )
        if not available:
            raise X12SyntaxError(
                f"ISA is cut short: {len(head)} of {ISA_LENGTH} bytes before the end of input",
                offset=start,
                segment="ISA",
            )
        if head[3] > 0x7F:
            raise X12SyntaxError(
                f"ISA element separator {head[3:4]!r} is not an ASCII character",
                offset=start,
                segment="ISA",
            )
        text = head.decode("ascii", "replace")
        sep = text[3]
        fields = text[4:104].split(sep)
        fixed = len(fields) == 16 and fields[15] == "" and text[103] == sep
        if fixed:
            fields = [*fields[:15], text[104]]
            component, terminator, length = text[104], text[105], ISA_LENGTH
        else:
            fields, component, terminator, length = self._read_loose_isa(sep, start)
        # A byte above 0x7F (decoded as U+FFFD) cannot be a delimiter: it may be part of
        # a UTF-8 character, and the terminator is searched for as one byte.
        if (
            sep.isalnum()
            or sep in _SPACE
            or terminator.isalnum()
            or component.isalnum()
            or not (component + terminator).isascii()
        ):
            raise X12SyntaxError(
                f"ISA delimiters are unusable (element {sep!r}, component {component!r},"
                f" terminator {terminator!r})",
                offset=start,
                segment="ISA",
            )
        # An unusable ISA11 (reported as TA1 016) would split every value holding it.
        usable = uses_repetition(fields[11]) and _usable_repetition(fields[10])
        repetition = fields[10] if usable else None
        delims = Delimiters(sep, component, terminator, repetition)
        issues = _isa_issues(fields, start, fixed)
        if len(set(delims.all())) != len(delims.all()):
            issues.append(
                EnvelopeIssue(
                    "interchange", "026",
                    f"ISA delimiters are not distinct: {delims.all()!r}", start, "ISA",
                )
            )  # fmt: skip
        self._pos += length
        return Token(Segment("ISA", tuple(fields), start), delims, tuple(issues))

    def _read_loose_isa(self, sep: str, start: int) -> tuple[list[str], str, str, int]:
        """Read an ISA that is not fixed width by counting its 16 element separators."""
        self._fill(ISA_LENGTH * 2)
        window = self._buf[self._pos : self._pos + ISA_LENGTH * 2].decode("ascii", "replace")
        cut = -1
        for _ in range(16):
            cut = window.find(sep, cut + 1)
            if cut < 0:
                raise X12SyntaxError(
                    "ISA does not have 16 elements", offset=start, segment="ISA"
                )
        if cut + 2 >= len(window):
            raise X12SyntaxError("ISA is cut short", offset=start, segment="ISA")
        fields = [*window[4:cut].split(sep), window[cut + 1]]
        return fields, window[cut + 1], window[cut + 2], cut + 3

    # -- ordinary segments --------------------------------------------------------------

    def _read_segment(self, delims: Delimiters) -> Segment:
        start = self.offset
        term = delims.segment.encode("latin-1")
        searched = 0
        while True:
            index = self._buf.find(term, self._pos + searched)
            if index >= 0 and index - self._pos <= self._max:
                raw = self._buf[self._pos : index]
                self._pos = index + 1
                break
            searched = len(self._buf) - self._pos
            if searched > self._max:
                raise X12SyntaxError(
                    f"no segment terminator {delims.segment!r} within {self._max} bytes"
                    " (segment too long or terminator missing)",
                    offset=start,
                    segment=self._buf[self._pos : self._pos + 3].decode("ascii", "replace"),
                )
            if not self._fill(searched + 1):
                # The last segment of the input lacks its terminator: read it anyway.
                raw = self._buf[self._pos :]
                self._pos = len(self._buf)
                break
        return split_segment(raw, delims, start)

    def __iter__(self) -> Iterator[Token]:
        """Yield every segment of the stream; raises X12SyntaxError where reading must stop."""
        if self._fill(len(BOM)) and self._buf.startswith(BOM):
            self._pos += len(BOM)
        delims: Delimiters | None = None
        empty = True
        while self._skip_space(delims):
            empty = False
            # An ISA met inside an open interchange means its IEA is missing: the
            # envelope layer reports that; here it simply starts the next interchange.
            if delims is None or self._at_isa():
                token = self._read_isa()
                delims = token.delimiters
                yield token
                continue
            segment = self._read_segment(delims)
            if not segment.tag and not segment.elements and delims.segment in "\r\n":
                # A blank line where a line break terminates segments is layout between
                # segments, not an empty segment (CR/LF tolerated, amazon-x12.md section 9).
                continue
            yield Token(segment, delims)
            if segment.tag == "IEA":
                delims = None
        if empty:
            raise X12SyntaxError("input is empty: no interchange (ISA) found", offset=self.offset)

    def _at_isa(self) -> bool:
        """An ISA starts here when 'ISA' is followed by a non-alphanumeric separator."""
        self._fill(4)
        head = self._buf[self._pos : self._pos + 4]
        return head.startswith(b"ISA") and len(head) == 4 and not head[3:].isalnum()


def split_segment(raw: bytes, delims: Delimiters, offset: int) -> Segment:
    """Split one segment's bytes (terminator excluded) into tag and elements.

    Bytes that are not UTF-8 are kept as surrogate escapes so nothing is lost; validation
    reports them as invalid characters.
    """
    text = raw.decode("utf-8", "surrogateescape")
    if delims.segment not in "\r\n":
        text = text.rstrip("\r\n")
    parts = text.split(delims.element)
    return Segment(parts[0], tuple(_element(p, delims) for p in parts[1:]), offset)


def _element(value: str, delims: Delimiters) -> Element:
    rep = delims.repetition
    if rep is not None and rep in value:
        return Repeated(tuple(_component(v, delims.component) for v in value.split(rep)))
    return _component(value, delims.component)


def _component(value: str, component: str) -> str | Composite:
    if component in value:
        return Composite(tuple(value.split(component)))
    return value
