"""Reading a set segment by segment (``read_events(whole_sets=False)``), DocumentBuilder,
and the batched lexer against a reader of one segment at a time.

Streaming mode must give what whole mode gives: the same envelope events and the same
issues at every level, the set bodies as SegmentRead events (offsets included) instead of
inside each TransactionRead.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.corpus import LazyInterchanges
from gateway.errors import X12SyntaxError
from gateway.x12 import (
    DocumentBuilder,
    DocumentIssue,
    Event,
    GroupEnd,
    InterchangeEnd,
    InterchangeStart,
    Lexer,
    Segment,
    SegmentRead,
    Transaction,
    TransactionRead,
    TransactionStart,
    parse,
    read_events,
)
from gateway.x12.envelope import _EnvelopeReader
from gateway.x12.lexer import BOM, split_segment
from tests.x12text import isa

# -- inputs ---------------------------------------------------------------------------------


def x12(*segments: str, head: str | None = None, term: str = "~", joiner: str = "") -> bytes:
    """An ISA (default :func:`isa`) then ``segments``, each ended by ``term`` + ``joiner``."""
    head = head if head is not None else isa(term=term)
    return (head + joiner + "".join(s + term + joiner for s in segments)).encode()


def po_set(st02: str, lines: int = 2, se01: str | None = None) -> list[str]:
    body = ["BEG*00*SA*PO1**20240102"]
    body += [f"PO1*{n}*5*EA*9.50**UP*012345678905" for n in range(1, lines + 1)]
    body.append(f"CTT*{lines}")
    count = se01 if se01 is not None else str(len(body) + 2)
    return [f"ST*850*{st02}", *body, f"SE*{count}*{st02}"]


def gs(gs06: str = "1", gs01: str = "PO") -> str:
    return f"GS*{gs01}*AMAZON*VENDOR*20240102*1530*{gs06}*X*004010"


def valid(joiner: str = "") -> bytes:
    """Two groups, three sets, one interchange: no issue."""
    return x12(
        gs("1"), *po_set("0001"), *po_set("0002", 3), "GE*2*1",
        gs("2", "IN"), "ST*810*0001", "BIG*20240102*INV1**PO1", "TDS*4750", "SE*4*0001",
        "GE*1*2", "IEA*2*000000001", joiner=joiner,
    )  # fmt: skip


def second_interchange() -> bytes:
    """Another interchange, with other delimiters (``|``, ``:``, LF terminator)."""
    head = isa("|", ":", "\n", control="000000002")
    segments = [gs("7"), *po_set("0001"), "GE*1*7", "IEA*1*000000002"]
    return (head + "".join(s.replace("*", "|") + "\n" for s in segments)).encode()


def other_separator() -> bytes:
    """Another interchange with ``|`` for element separator and ``~`` for terminator."""
    head = isa("|", ":", "~", control="000000003")
    segments = [gs("8"), *po_set("0001"), "GE*1*8", "IEA*1*000000003"]
    return (head + "".join(s.replace("*", "|") + "~" for s in segments)).encode()


INPUTS: dict[str, bytes] = {
    "valid": valid(),
    "valid, CRLF after every terminator": valid("\r\n"),
    "valid, LF and indentation": valid("\n  "),
    "empty set (ST then SE)": x12(gs(), "ST*850*0001", "SE*2*0001", "GE*1*1", "IEA*1*000000001"),
    "input cut inside a set": valid()[: valid().index(b"PO1*2*5", valid().index(b"0002"))],
    "input cut inside a segment": valid()[: valid().index(b"CTT*3") + 3],
    "SE missing (next ST)": valid().replace(b"SE*6*0001~", b""),
    "SE missing (GE)": x12(gs(), *po_set("0001")[:-1], "GE*1*1", "IEA*1*000000001"),
    "GE missing (next GS)": valid().replace(b"GE*2*1~", b""),
    "GE and IEA missing": x12(gs(), *po_set("0001")),
    "IEA missing (next ISA)": valid().replace(b"IEA*2*000000001~", b"") + second_interchange(),
    "IEA missing (next ISA, same terminator)": valid().replace(b"IEA*2*000000001~", b"")
                                               + other_separator(),
    "SE01 wrong": x12(gs(), *po_set("0001", se01="9"), "GE*1*1", "IEA*1*000000001"),
    "SE01 not a number": x12(gs(), *po_set("0001", se01="X"), "GE*1*1", "IEA*1*000000001"),
    "SE01 with leading zeros": x12(gs(), *po_set("0001", se01="0006"), "GE*1*1",
                                   "IEA*1*000000001"),
    "SE02 wrong": valid().replace(b"SE*6*0001", b"SE*6*0009"),
    "GE01 and IEA01 wrong": valid().replace(b"GE*2*1", b"GE*3*1").replace(b"IEA*2", b"IEA*5"),
    "duplicate ST02": valid().replace(b"ST*850*0002", b"ST*850*0001")
                             .replace(b"SE*7*0002", b"SE*7*0001"),
    "ST01 outside its group": valid().replace(b"GS*PO", b"GS*IN", 1),
    "ST without GS": x12(*po_set("0001"), "IEA*0*000000001"),
    "segments outside any set": x12("TA1*000000001*240102*1530*A*000", gs(), "REF*X*1",
                                    *po_set("0001"), "N1*ST*X", "GE*1*1", "IEA*1*000000001"),
    "two interchanges": valid() + b"\r\n" + second_interchange(),
    "one interchange per group of sets": LazyInterchanges(2, 2, 3).read(),
    "empty segment between two terminators": valid().replace(b"CTT*2~", b"CTT*2~~"),
    "composites and bytes that are not UTF-8": valid().replace(b"CTT*2", b"CTT*2**A>B")
                                                       .replace(b"PO1*1", b"PO1*\xc3\xa9\xff"),
    "not X12 after an interchange": valid() + b"\r\nDear supplier",
    "segment longer than max_segment": valid().replace(
        b"CTT*3~", b"MSG*" + b"A" * (1 << 20) + b"~CTT*3~"
    ),
}  # fmt: skip


def whole(data: bytes, **options: int) -> list[Event]:
    return list(read_events(io.BytesIO(data), **options))


def streamed(data: bytes, **options: int) -> list[Event]:
    return list(read_events(io.BytesIO(data), whole_sets=False, **options))


def issues_by_level(events: list[Event]) -> dict[str, list]:
    """Every issue the events carry, by level, in order (offsets and messages included)."""
    found: dict[str, list] = {}
    for event in events:
        if isinstance(event, InterchangeStart | GroupEnd | InterchangeEnd):
            issues = list(event.issues)
        elif isinstance(event, TransactionRead):
            issues = list(event.transaction.issues)
        elif isinstance(event, DocumentIssue):
            issues = [event.issue]
        else:
            issues = []
        for issue in issues:
            found.setdefault(issue.level, []).append(issue)
    return found


def assert_streaming_equals_whole(data: bytes, **options: int) -> list[Event]:
    """The check of this module; returns the streamed events."""
    expected = whole(data, **options)
    events = streamed(data, **options)
    assert not any(isinstance(e, TransactionStart | SegmentRead) for e in expected)

    # Without the set bodies, the two streams are the same events but for the bodies.
    envelope = [e for e in events if not isinstance(e, TransactionStart | SegmentRead)]
    assert [type(e) for e in envelope] == [type(e) for e in expected]
    body: list[Segment] | None = None
    header: Segment | None = None
    sets = 0
    for event in events:
        if isinstance(event, TransactionStart):
            assert body is None, "a set starts inside a set"
            body, header = [], event.header
        elif isinstance(event, SegmentRead):
            assert body is not None, "a SegmentRead outside a set"
            body.append(event.segment)
        elif isinstance(event, TransactionRead):
            assert body is not None and header is not None
            want = [e for e in expected if isinstance(e, TransactionRead)][sets].transaction
            got = event.transaction
            assert got.segments == ()
            assert header == got.header == want.header
            assert header.offset == want.header.offset
            assert (got.trailer, got.issues) == (want.trailer, want.issues)
            # the concatenated SegmentRead segments are the whole-mode body, offsets too
            assert tuple(body) == want.segments
            assert [s.offset for s in body] == [s.offset for s in want.segments]
            body = header = None
            sets += 1
    for got, want in zip(envelope, expected, strict=True):
        if not isinstance(got, TransactionRead):
            assert got == want
    assert issues_by_level(events) == issues_by_level(expected)
    return events


# -- streaming mode equals whole mode --------------------------------------------------------


@pytest.mark.parametrize("name", list(INPUTS))
def test_streaming_mode_gives_the_events_and_issues_of_whole_mode(name):
    assert_streaming_equals_whole(INPUTS[name])


@pytest.mark.parametrize("chunk_size", [1, 7, 106, 4096])
def test_streaming_mode_equals_whole_mode_whatever_the_chunk_size(chunk_size):
    data = valid("\r\n") + second_interchange()
    assert_streaming_equals_whole(data, chunk_size=chunk_size)


def test_streaming_events_of_a_valid_input_in_order():
    events = assert_streaming_equals_whole(valid())
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "InterchangeStart", "GroupStart",
        "TransactionStart", *["SegmentRead"] * 4, "TransactionRead",
        "TransactionStart", *["SegmentRead"] * 5, "TransactionRead",
        "GroupEnd", "GroupStart",
        "TransactionStart", *["SegmentRead"] * 2, "TransactionRead",
        "GroupEnd", "InterchangeEnd",
    ]  # fmt: skip
    assert issues_by_level(events) == {}
    assert events[2] == TransactionStart(Segment("ST", ("850", "0001")))
    assert events[3] == SegmentRead(Segment("BEG", ("00", "SA", "PO1", "", "20240102")))


def test_streaming_mode_checks_se01_against_the_segments_it_did_not_keep():
    data = INPUTS["SE01 wrong"]
    events = assert_streaming_equals_whole(data)
    (read,) = [e for e in events if isinstance(e, TransactionRead)]
    assert [(i.code, i.element, i.offset) for i in read.transaction.issues] == [
        ("4", "SE01", data.index(b"SE*9"))
    ]
    assert read.transaction.issues[0].message == "SE01 says '9' segments, the set has 6"


def test_streaming_mode_reports_a_missing_se_where_the_set_ends():
    data = INPUTS["SE missing (next ST)"]
    events = assert_streaming_equals_whole(data)
    first = next(e for e in events if isinstance(e, TransactionRead)).transaction
    assert first.trailer is None
    assert [(i.code, i.offset) for i in first.issues] == [("2", data.index(b"ST*850*0002"))]


def test_input_ending_inside_a_set_ends_the_set_without_se():
    data = INPUTS["input cut inside a set"]
    events = assert_streaming_equals_whole(data)
    assert [type(e) for e in events[-4:]] == [
        SegmentRead, TransactionRead, GroupEnd, InterchangeEnd,
    ]  # fmt: skip
    assert {i.code for i in issues_by_level(events)["transaction"]} == {"2"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from([b"", b"~", b"*", b"SE*4*0001~", b"ST*850*0003~", b"GE*1*1~",
                             b"GS*PO*A*B*1*1*3*X*004010~", b"IEA*1*000000001~", b"\r\n",
                             b"ISA", b"\xff"]),
        ),
        max_size=5,
    ),
    chunk=st.sampled_from([3, 64, 1 << 16]),
)  # fmt: skip
def test_damaged_inputs_stream_as_they_read_whole(edits, chunk):
    data = bytearray(valid("\n") + second_interchange())
    for position, replacement in edits:
        at = position % len(data)
        data[at : at + 1] = replacement
    assert_streaming_equals_whole(bytes(data), chunk_size=chunk)


def test_whole_mode_is_the_default_and_has_no_streaming_events():
    default = whole(valid())
    assert default == list(read_events(io.BytesIO(valid()), whole_sets=True))
    assert [len(e.transaction.segments) for e in default if isinstance(e, TransactionRead)] == [
        4, 5, 2,
    ]  # fmt: skip


# -- DocumentBuilder ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(INPUTS))
def test_document_builder_builds_what_parse_returns(name):
    data = INPUTS[name]
    builder = DocumentBuilder()
    for event in read_events(io.BytesIO(data)):
        builder.add(event)
    built, parsed = builder.document(), parse(data)
    assert built == parsed
    # issues are excluded from equality: compared on their own, with their offsets
    assert built.all_issues() == parsed.all_issues()
    assert built.issues == parsed.issues
    assert [ic.delimiters for ic in built.interchanges] == [
        ic.delimiters for ic in parsed.interchanges
    ]


def test_document_builder_holds_the_interchanges_ended_so_far():
    data = valid() + second_interchange()
    builder = DocumentBuilder()
    counts = []
    for event in read_events(io.BytesIO(data)):
        builder.add(event)
        counts.append(len(builder.document().interchanges))
    assert counts[-1] == 2
    first_end = next(i for i, e in enumerate(read_events(io.BytesIO(data)))
                     if isinstance(e, InterchangeEnd))  # fmt: skip
    assert counts[first_end - 1] == 0 and counts[first_end] == 1
    assert builder.document() == parse(data)


@pytest.mark.parametrize(
    "event",
    [TransactionStart(Segment("ST", ("850", "1"))), SegmentRead(Segment("BEG", ("00",)))],
)
def test_document_builder_refuses_streaming_events(event):
    builder = DocumentBuilder()
    with pytest.raises(TypeError, match="whole-set events only"):
        builder.add(event)


def test_document_builder_refuses_what_is_not_an_event():
    with pytest.raises(TypeError, match="not an event"):
        DocumentBuilder().add(Transaction(Segment("ST"), (), None))


# -- the batched lexer against one segment at a time -------------------------------------------


class OneSegmentAtATime(Lexer):
    """The reference: each segment found with ``find`` from the read position after
    skipping blanks, as the lexer read before it split whole buffers."""

    def segments(self):
        if self._fill(len(BOM)) and self._buf.startswith(BOM):
            self._pos += len(BOM)
        delims = None
        empty = True
        while self._skip_space(delims):
            empty = False
            if delims is None or self._at_isa():
                segment = self._read_isa()
                delims = self.delimiters
                yield segment
                continue
            segment = self._read_one(delims)
            if not segment.tag and not segment.elements and delims.segment in "\r\n":
                continue
            yield segment
            if segment.tag == "IEA":
                delims = None
        if empty:
            raise X12SyntaxError("input is empty: no interchange (ISA) found", offset=self.offset)

    def _read_one(self, delims):
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
                raw = self._buf[self._pos :]
                self._pos = len(self._buf)
                break
        return split_segment(raw, delims, start)


def lexed(lexer: Lexer) -> tuple[list, object]:
    """Every token with its offset and the read position after it, then how it ended."""
    out = []
    try:
        for token in lexer:
            out.append((token, token.segment.offset, lexer.offset))
    except X12SyntaxError as exc:
        return out, (exc.message, exc.offset, exc.segment)
    return out, lexer.offset


BASES = [
    valid(), valid("\r\n"), valid("\n \t"), second_interchange(),
    BOM + valid("\n") + b"\r\n" + second_interchange(),
    x12(gs(), *po_set("0001"), "GE*1*1", "IEA*1*000000001", term="\r", joiner="\n"),
    LazyInterchanges(1, 2, 2).read(),
    # CR/LF before the terminators (layout, not data)
    valid()[:106] + valid()[106:].replace(b"~", b"\r\n~"),
    # an ISA with another element separator where the IEA should be
    valid().replace(b"IEA*2*000000001~", b"") + second_interchange(),
    valid("\n").replace(b"IEA*2*000000001~", b"") + BOM + second_interchange(),
    valid().replace(b"IEA*2*000000001~", b"") + other_separator(),
    valid().replace(b"CTT*2", b"CTT*2*A>B").replace(b"IEA*2*000000001~", b"") + other_separator(),
]  # fmt: skip
PIECES = [
    b"", b"~", b"~~", b"*", b">", b"|", b"^", b":", b"\r", b"\n", b"\r\n", b" ", b"\t",
    b"ISA", b"ISA*", b"ISA|", b"ISAB", b"IEA", b"IEA*1*000000001~", b"\xc3\xa9", b"\xff",
    b"\x85", b"A" * 90, valid()[:106], second_interchange()[:106],
]  # fmt: skip
#: Up to six edits of a base input: at a position, 0 to 2 bytes replaced by a piece.
EDITS = st.lists(
    st.tuples(st.integers(0, 100_000), st.integers(0, 2), st.sampled_from(PIECES)), max_size=6
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(range(len(BASES))),
    edits=EDITS,
    chunk=st.sampled_from([1, 2, 5, 106, 333, 1 << 16]),
    limit=st.sampled_from([3, 40, 100, 1 << 20]),
)
def test_batched_lexer_reads_exactly_as_one_segment_at_a_time(base, edits, chunk, limit):
    """Segments, byte offsets, delimiters, ISA issues, the read position after each token
    and the error that stops reading are those of a reader of one segment at a time."""
    data = bytearray(BASES[base])
    for position, width, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + width] = replacement
    options = {"chunk_size": chunk, "max_segment": limit}
    expected = lexed(OneSegmentAtATime(io.BytesIO(bytes(data)), **options))
    assert lexed(Lexer(io.BytesIO(bytes(data)), **options)) == expected


@pytest.mark.parametrize("base", range(len(BASES)))
def test_batched_lexer_reads_each_base_input_as_one_segment_at_a_time(base):
    for chunk in (1, 106, 1 << 16):
        for limit in (40, 1 << 20):
            options = {"chunk_size": chunk, "max_segment": limit}
            expected = lexed(OneSegmentAtATime(io.BytesIO(BASES[base]), **options))
            assert expected[0], "nothing read"
            assert lexed(Lexer(io.BytesIO(BASES[base]), **options)) == expected


def test_batched_lexer_reads_long_inputs_as_one_segment_at_a_time():
    data = LazyInterchanges(3, 2, 40).read() + valid("\r\n") + second_interchange()
    for chunk in (100, 4096, 1 << 16):
        expected = lexed(OneSegmentAtATime(io.BytesIO(data), chunk_size=chunk))
        assert len(expected[0]) > 4800
        assert lexed(Lexer(io.BytesIO(data), chunk_size=chunk)) == expected


@pytest.mark.parametrize("delta", [-1, 0, 1])
@pytest.mark.parametrize("where", ["inside", "last, without terminator"])
@pytest.mark.parametrize("joiner", ["", "\r\n"])
def test_max_segment_is_enforced_at_the_same_byte(delta, where, joiner):
    """A segment one byte over, at, or one byte under ``max_segment``."""
    long = "MSG*" + "A" * 60
    if where == "inside":
        data = valid(joiner).replace(b"CTT*3", long.encode() + b"~" + joiner.encode() + b"CTT*3")
    else:
        data = valid(joiner)[: valid(joiner).index(b"IEA*")] + long.encode()
    limit = len(long) + delta
    for chunk in (64, 1 << 16):
        options = {"chunk_size": chunk, "max_segment": limit}
        expected = lexed(OneSegmentAtATime(io.BytesIO(data), **options))
        assert isinstance(expected[1], tuple) == (delta < 0)
        assert lexed(Lexer(io.BytesIO(data), **options)) == expected


# -- the envelope reader over lists of segments ----------------------------------------------


class OneListPerSegment(OneSegmentAtATime):
    """The lists of the reference reader: each segment alone in its list."""

    def batches(self):
        for segment in self.segments():
            yield [segment]


def events_read(lexer: Lexer, whole_sets: bool) -> str:
    """The events of ``lexer``, every field shown (offsets and set issues included)."""
    return repr(list(_EnvelopeReader(whole_sets=whole_sets).read(lexer)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(range(len(BASES))),
    edits=EDITS,
    chunk=st.sampled_from([5, 333, 1 << 16]),
    whole_sets=st.booleans(),
)
def test_events_of_lists_of_segments_are_those_of_one_segment_at_a_time(
    base, edits, chunk, whole_sets
):
    """The reader takes the lexer's lists (envelope segments found per list, body runs
    added at once) exactly as it takes one segment at a time."""
    data = bytearray(BASES[base])
    for position, width, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + width] = replacement
    expected = events_read(OneListPerSegment(io.BytesIO(bytes(data)), chunk_size=chunk), whole_sets)
    assert events_read(Lexer(io.BytesIO(bytes(data)), chunk_size=chunk), whole_sets) == expected


@pytest.mark.parametrize("layout", ["", "\n", "\r\n", "\r", "\n\n", " \n", "\n ", "\r\r\n"])
def test_every_layout_after_terminators_reads_as_one_segment_at_a_time(layout):
    """Uniform layouts take the one-split path, the others the per-segment one; both read
    what a reader of one segment at a time reads, in either mode."""
    data = valid(layout)
    expected = lexed(OneSegmentAtATime(io.BytesIO(data)))
    assert lexed(Lexer(io.BytesIO(data))) == expected
    for whole_sets in (True, False):
        expected_events = events_read(OneListPerSegment(io.BytesIO(data)), whole_sets)
        assert events_read(Lexer(io.BytesIO(data)), whole_sets) == expected_events
