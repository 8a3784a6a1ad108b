"""Bytes to segments: the streaming X12 lexer.

Reads any binary stream in chunks and yields one :class:`Token` per segment (or, for the
envelope reader, the bare :class:`Segment`), holding in memory at most the read buffer:
one chunk plus the segment being read (bounded by ``max_segment``), so a 100 MB file is
read in constant memory. For speed the segments the buffer holds whole are cut in one
``split`` of the buffer rather than searched for one by one (see :meth:`Lexer.segments`);
the buffer is then held up to three times over (bytes, text, pieces), never more.

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
from functools import lru_cache
from itertools import accumulate, pairwise, repeat, tee
from operator import add
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
    if not _is_date_time(fields[8], fields[9]):
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


# strptime is slow (tens of microseconds) and an input repeats few ISA dates: cached.
@lru_cache(maxsize=256)
def _is_date_time(yymmdd: str, hhmm: str) -> bool:
    try:
        datetime.strptime(yymmdd + hhmm, "%y%m%d%H%M")
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _is_date(yymmdd: str) -> bool:
    try:
        datetime.strptime(yymmdd, "%y%m%d")
    except ValueError:
        return False
    return True


class Lexer:
    """Iterate the segments of a binary stream; see the module docstring.

    ``stream`` is read with ``read(chunk_size)`` until it returns ``b""``. Iterating yields
    one :class:`Token` per segment; :meth:`segments` yields the bare segments (the fast
    path of the envelope reader), with the delimiters and ISA problems in attributes.
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
        #: The delimiters of the interchange being read (of the last ISA; None before one).
        self.delimiters: Delimiters | None = None
        #: The last ISA read, and the problems found in its fields.
        self.isa: Segment | None = None
        self.isa_issues: tuple[EnvelopeIssue, ...] = ()
        # Of the last list of segments cut from a uniform layout (see batches): the bytes
        # from the end of one segment's terminator to the start of the next.
        self._gap = 0

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
        """Absolute byte offset of the read position (just after the last segment yielded)."""
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

    def _read_isa(self) -> Segment:
        """Read the ISA at the read position; set ``delimiters``, ``isa``, ``isa_issues``."""
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
        segment = Segment("ISA", tuple(fields), start)
        self.delimiters, self.isa, self.isa_issues = delims, segment, tuple(issues)
        return segment

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

    def _too_long(self, delims: Delimiters, start: int, head: str) -> X12SyntaxError:
        return X12SyntaxError(
            f"no segment terminator {delims.segment!r} within {self._max} bytes"
            " (segment too long or terminator missing)",
            offset=start,
            segment=head.encode("latin-1").decode("ascii", "replace"),
        )

    def segments(self) -> Iterator[Segment]:
        """Yield every segment of the stream; raises X12SyntaxError where reading must stop.

        While a segment is being handled (before the next one is asked for), ``delimiters``
        are those in force for it, when it is ``isa``, ``isa_issues`` are its problems, and
        ``offset`` is just after it (after its terminator). The segments are those of
        :meth:`batches`, one at a time.
        """
        for batch in self.batches():
            if len(batch) > 1:
                # A batch of more than one segment has one layout: each next segment
                # starts ``_gap`` bytes after the end of the one before.
                end, gap = self._pos, self._gap + self._base
                for segment, following in pairwise(batch):
                    self._pos = following[2] - gap
                    yield segment
                self._pos = end
            yield batch[-1]

    def batches(self) -> Iterator[list[Segment]]:
        """Yield every segment of the stream in lists (never empty), in input order; raises
        X12SyntaxError where reading must stop.

        While a list is being handled (before the next one is asked for), ``delimiters``
        are those in force for all its segments, and ``offset`` is just after its last
        segment. An ISA always comes alone, as ``[isa]``, with ``isa_issues`` its problems.

        Inside an interchange, the segments the buffer holds whole are cut by splitting
        the whole buffer, decoded as Latin-1 so that one character is one byte (the
        delimiters are ASCII, checked in :meth:`_read_isa`) and offsets stay byte offsets;
        a segment holding bytes above 0x7F is then decoded again as UTF-8 with surrogate
        escapes, as :func:`split_segment` does. The result is exactly that of reading one
        segment at a time: blanks before a segment skipped (never a delimiter), CR/LF
        before a terminator dropped unless CR or LF is the terminator, blank lines dropped
        where a line break is the terminator, an ISA recognised at the start of any segment
        (an interchange without IEA), ``max_segment`` enforced per segment, the last
        segment read without its terminator.

        The usual buffer (ASCII, simple elements, the same layout after every terminator:
        nothing, CR, LF or CRLF) is cut into one list with no per-segment Python code (see
        :func:`_uniform_pieces`); any other text is read one segment at a time, in lists
        of one.
        """
        if self._fill(len(BOM)) and self._buf.startswith(BOM):
            self._pos += len(BOM)
        delims: Delimiters | None = None
        empty = True
        new = tuple.__new__
        # Per interchange (set at its ISA): the delimiters and what follows from them.
        term = sep = comp = blanks = ""
        rep: str | None = None
        term_byte = b""
        line_break = False
        limit = self._max
        retry = False  # read the rest of the text one segment at a time
        isa_ahead = False  # an ISA was found at the read position
        while self._skip_space(delims):
            empty = False
            # An ISA met inside an open interchange means its IEA is missing: the
            # envelope layer reports that; here it simply starts the next interchange.
            if delims is None or isa_ahead or self._at_isa():
                segment = self._read_isa()
                retry = isa_ahead = False
                delims = self.delimiters
                assert delims is not None
                term, sep, comp, rep = delims.segment, delims.element, delims.component, (
                    delims.repetition
                )
                term_byte = term.encode("latin-1")
                # Never empty: the element separator is not a blank (checked in _read_isa).
                blanks = "".join(sorted(_SPACE - set(delims.all())))
                line_break = term in "\r\n"
                yield [segment]
                continue
            buf, pos = self._buf, self._pos
            last = buf.rfind(term_byte, pos)
            if last < 0:
                # No whole segment is buffered (_skip_space and _at_isa read what they need).
                start = self._base + pos
                available = len(buf) - pos
                if available > limit:
                    raise self._too_long(delims, start, buf[pos : pos + 3].decode("latin-1"))
                if self._fill(available + 1):
                    continue
                # The last segment of the input lacks its terminator: read it anyway.
                self._pos = len(buf)
                segment = split_segment(buf[pos:], delims, start)
                if line_break and not segment.tag and not segment.elements:
                    continue
                yield [segment]
                if segment.tag == "IEA":
                    delims = None
                continue
            base = self._base
            text = buf[pos:last].decode("latin-1")
            # What cannot occur in the whole text is not looked for in each segment.
            simple = comp not in text and (rep is None or rep not in text)
            careful = line_break or len(text) > limit or not text.isascii()
            at = base + pos  # absolute offset of the next piece
            if not (retry or careful) and simple:
                joint = _joint(text, term)
                # Up to the first IEA or ISA (read one at a time below, after this list).
                cut = _envelope_cut(text, joint)
                pieces = _uniform_pieces(text[:cut], joint, blanks) if cut else None
                if pieces is not None:
                    starts = accumulate(map(add, map(len, pieces), repeat(len(joint))), initial=at)
                    # Each piece split into a list, handed twice (tee) to zip, which takes
                    # from its arguments in order: the first pops the tag off the list,
                    # the second makes a tuple of the elements left. Segment(tag,
                    # elements, start) is then built from zip's tuple, all without a
                    # Python step per segment.
                    tags, elements = tee(map(str.split, pieces, repeat(sep)))
                    batch = list(map(new, repeat(Segment), zip(
                        map(list.pop, tags, repeat(0)),
                        map(tuple, elements),
                        starts,  # one more than the pieces: the end of the last
                        strict=False,
                    )))  # fmt: skip
                    del pieces  # not held while the list is handled
                    self._gap = len(joint) - len(term)
                    if cut < len(text):
                        self._pos = pos + cut + len(term)
                        retry = True
                    else:
                        self._pos = last + 1
                    yield batch
                    continue
            retry = False
            # CR/LF before a terminator are layout (amazon-x12.md section 9).
            crlf = not line_break and ("\n" in text or "\r" in text)
            for piece in text.split(term):
                at += len(piece) + 1
                value = piece.lstrip(blanks)
                start = at - 1 - len(value)
                if careful:
                    if _starts_isa(value):
                        self._pos = start - base  # the ISA is read by the outer loop
                        isa_ahead = True
                        break
                    if len(value) > limit:
                        raise self._too_long(delims, start, value[:3])
                    if line_break and not value:
                        # A blank line where a line break terminates segments is layout
                        # between segments, not an empty segment (amazon-x12.md section 9).
                        continue
                if crlf:
                    value = value.rstrip("\r\n")
                if careful and not value.isascii():
                    value = value.encode("latin-1").decode("utf-8", "surrogateescape")
                parts = tuple(value.split(sep))
                tag = parts[0]
                if simple or (comp not in value and (rep is None or rep not in value)):
                    elements = parts[1:]
                else:
                    elements = tuple([_element(item, delims) for item in parts[1:]])
                if tag in _IEA_ISA or len(tag) > 3:
                    # IEA and ISA are told by their tag, so that no text is searched for
                    # them; "ISA" followed by another element separator is a longer tag.
                    if not careful and _starts_isa(value):
                        # An ISA inside an open interchange: its IEA is missing. The
                        # envelope layer reports that; the outer loop reads the ISA.
                        self._pos = start - base
                        isa_ahead = True
                        break
                    self._pos = at - base
                    yield [new(Segment, (tag, elements, start))]
                    if tag == "IEA":
                        delims = None  # after an IEA, only an ISA may follow
                        break
                    continue
                self._pos = at - base
                yield [new(Segment, (tag, elements, start))]
            else:
                self._pos = last + 1
        if empty:
            raise X12SyntaxError("input is empty: no interchange (ISA) found", offset=self.offset)

    def __iter__(self) -> Iterator[Token]:
        """Yield every segment of the stream; raises X12SyntaxError where reading must stop."""
        for segment in self.segments():
            if segment is self.isa:
                yield Token(segment, self.delimiters, self.isa_issues)
            else:
                yield Token(segment, self.delimiters)

    def _at_isa(self) -> bool:
        """An ISA starts here when 'ISA' is followed by a non-alphanumeric separator."""
        self._fill(4)
        head = self._buf[self._pos : self._pos + 4]
        return head.startswith(b"ISA") and len(head) == 4 and not head[3:].isalnum()


_IEA_ISA = frozenset({"IEA", "ISA"})


def _joint(text: str, term: str) -> str:
    """The terminator and the line break after the first terminator of ``text`` (CRLF, LF,
    CR or nothing): what separates its segments if every terminator is followed alike."""
    first = text.find(term) + 1
    if first:
        for layout in ("\r\n", "\n", "\r"):
            if text.startswith(layout, first):
                return term + layout
    return term


def _uniform_pieces(text: str, joint: str, blanks: str) -> list[str] | None:
    """``text`` split on ``joint`` when that cuts exactly its segments, None otherwise.

    Exactly: every terminator is followed by the same line break (the rest of ``joint``),
    CR and LF occur nowhere else (so none precedes a terminator), and no blank follows
    ``joint`` (so no segment starts with one). Checked on the pieces joined, where a
    character is found by ``memchr``; the blank after a joint is searched for only when the
    pieces hold that blank at all.
    """
    pieces = text.split(joint)
    joined = "".join(pieces)
    if joint[0] in joined or "\r" in joined or "\n" in joined:
        return None
    if any(blank in joined and joint + blank in text for blank in blanks):
        return None
    return pieces


def _envelope_cut(text: str, joint: str) -> int:
    """Where the first segment tagged (or starting) ISA or IEA starts in ``text`` split on
    ``joint``, less the joint; ``len(text)`` when there is none. The segments before it are
    read as one list, that one and the rest one at a time (an IEA ends the interchange; an
    ISA may bring other delimiters). One scan for both: segments starting with I are few.
    """
    if text.startswith(("ISA", "IEA")):
        return 0
    probe = joint + "I"
    found = text.find(probe)
    while found >= 0:
        after = found + len(probe)
        if text.startswith(("SA", "EA"), after):
            return found
        found = text.find(probe, after)
    return len(text)


def _starts_isa(text: str) -> bool:
    """An ISA starts ``text`` (decoded as Latin-1): 'ISA' then a byte that is not an ASCII
    letter or digit, or nothing (the terminator follows), as :meth:`Lexer._at_isa`."""
    if not text.startswith("ISA"):
        return False
    return len(text) == 3 or not (text[3].isascii() and text[3].isalnum())


def split_segment(raw: bytes, delims: Delimiters, offset: int) -> Segment:
    """Split one segment's bytes (terminator excluded) into tag and elements.

    Bytes that are not UTF-8 are kept as surrogate escapes so nothing is lost; validation
    reports them as invalid characters.
    """
    text = raw.decode("utf-8", "surrogateescape")
    if delims.segment not in "\r\n":
        text = text.rstrip("\r\n")
    parts = text.split(delims.element)
    return Segment(parts[0], tuple([_element(p, delims) for p in parts[1:]]), offset)


def _element(value: str, delims: Delimiters) -> Element:
    rep = delims.repetition
    if rep is not None and rep in value:
        return Repeated(tuple(_component(v, delims.component) for v in value.split(rep)))
    return _component(value, delims.component)


def _component(value: str, component: str) -> str | Composite:
    if component in value:
        return Composite(tuple(value.split(component)))
    return value
