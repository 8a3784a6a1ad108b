"""The streaming lexer: delimiters from the ISA, tolerated layout, byte offsets, fatal input.

Inputs are built byte by byte here so that every expected offset can be computed from the
input itself (``data.index(...)``), never copied from the code under test.
"""

from __future__ import annotations

import io
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.x12 import (
    DEFAULT_MAX_SEGMENT,
    Composite,
    Delimiters,
    DocumentIssue,
    GroupStart,
    InterchangeStart,
    Lexer,
    Repeated,
    Segment,
    TransactionRead,
    X12Document,
    parse,
    read_events,
    serialize,
)
from tests.conftest import SHARED
from tests.x12text import isa

SAMPLES = SHARED / "samples" / "x12"



def po_interchange(
    sep: str = "*",
    comp: str = ">",
    term: str = "~",
    *,
    rep: str = "U",
    version: str = "00401",
    joiner: str = "",
    control: str = "000000001",
) -> bytes:
    """One 850 in one group; ``joiner`` is what follows each terminator (e.g. CRLF)."""
    gs08 = "00" + version[:4] + "0"
    segments = [
        ["GS", "PO", "AMAZON", "VENDOR", "20240102", "1530", "1", "X", gs08],
        ["ST", "850", "0001"],
        ["BEG", "00", "SA", "PO123", "", "20240102"],
        ["PO1", "1", "5", "EA", "9.50", "", "UP", "012345678905"],
        ["CTT", "1"],
        ["SE", "5", "0001"],
        ["GE", "1", "1"],
        ["IEA", "1", control],
    ]
    body = "".join(sep.join(s) + term + joiner for s in segments)
    return (isa(sep, comp, term, rep=rep, version=version, control=control) + joiner + body).encode(
        "utf-8"
    )


def only_interchange(doc: X12Document):
    assert doc.issues == ()
    assert len(doc.interchanges) == 1
    return doc.interchanges[0]




def segments_of(doc: X12Document) -> list[Segment]:
    """Every segment of the document in input order (ISA..IEA of each interchange)."""
    out: list[Segment] = []
    for ic in doc.interchanges:
        out.append(ic.header)
        out += ic.service_segments
        for group in ic.groups:
            out.append(group.header)
            for txn in group.transactions:
                out += txn.all_segments()
            if group.trailer is not None:
                out.append(group.trailer)
        if ic.trailer is not None:
            out.append(ic.trailer)
    return out


def require_samples() -> None:
    if SAMPLES.is_dir():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{SAMPLES} is missing; CI must provide the public sample files")
    pytest.skip(f"{SAMPLES} is absent (public sample files live outside the repository)")


# -- delimiters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "comp", "term", "rep", "version", "expected"),
    [
        ("*", ">", "~", "U", "00401", Delimiters("*", ">", "~", None)),
        ("|", ":", "\n", "U", "00401", Delimiters("|", ":", "\n", None)),
        ("*", ":", "~", "^", "00501", Delimiters("*", ":", "~", "^")),
        ("~", "`", "*", "U", "00401", Delimiters("~", "`", "*", None)),
        ("!", "\\", "'", "{", "00403", Delimiters("!", "\\", "'", "{")),
    ],
)
def test_delimiters_are_read_from_the_isa_and_used_to_split(
    sep, comp, term, rep, version, expected
):
    """Element separator at offset 3, ISA11 (00402+), ISA16, terminator at offset 105."""
    data = po_interchange(sep, comp, term, rep=rep, version=version)
    ic = only_interchange(parse(data))
    assert ic.delimiters == expected
    assert parse(data).all_issues() == []
    po1 = ic.groups[0].transactions[0].segments[1]
    assert po1 == Segment("PO1", ("1", "5", "EA", "9.50", "", "UP", "012345678905"))
    assert ic.trailer == Segment("IEA", ("1", "000000001"))


def test_isa11_is_a_plain_value_before_00402():
    """Before 00402 ISA11 is the standards id ``U``: no repetition separator, ``^`` is data."""
    data = po_interchange().replace(b"PO123", b"PO^123")
    ic = only_interchange(parse(data))
    assert ic.delimiters.repetition is None
    assert ic.groups[0].transactions[0].segments[0].elements[2] == "PO^123"


def test_sample_with_element_tilde_and_terminator_star_is_split_correctly():
    """856_oopfactory_1.edi: element ``~``, component backquote, terminator ``*``, BOM, CRLF."""
    require_samples()
    data = (SAMPLES / "856_oopfactory_1.edi").read_bytes()
    doc = parse(data)
    ic = only_interchange(doc)
    assert ic.delimiters == Delimiters("~", "`", "*", None)
    assert doc.all_issues() == []
    assert ic.header.offset == 3  # after the UTF-8 BOM
    txn = ic.groups[0].transactions[0]
    assert txn.header == Segment("ST", ("856", "0001"))
    assert txn.segments[0] == Segment("BSN", ("00", "123456", "20010420", "1421"))
    assert txn.segments[0].offset == data.index(b"BSN~")
    assert txn.segments[3] == Segment("HL", ("1", "", "S"))


# -- layout tolerated on input ----------------------------------------------------------


def test_utf8_bom_is_skipped_and_offsets_count_its_three_bytes():
    plain = po_interchange()
    data = b"\xef\xbb\xbf" + plain
    ic = only_interchange(parse(data))
    assert ic == only_interchange(parse(plain))
    assert ic.header.offset == 3
    assert ic.groups[0].header.offset == data.index(b"GS*") == 109


@pytest.mark.parametrize("joiner", ["\r\n", "\r", "\n", "\n\n", "\r\n  ", "\n\t\t", "  "])
def test_line_breaks_and_blanks_after_terminators_are_tolerated(joiner):
    """CR, LF, CRLF, blank lines and indentation between segments change nothing but offsets."""
    plain = po_interchange()
    data = po_interchange(joiner=joiner)
    doc = parse(data)
    assert doc.all_issues() == []
    assert doc.interchanges == parse(plain).interchanges
    for segment in segments_of(doc):
        tag = segment.tag.encode()
        assert data[segment.offset : segment.offset + len(tag) + 1] == tag + b"*"
    starts = [s.offset for s in segments_of(doc)]
    expected = [0]
    for piece in data.split(b"~")[:-1]:
        expected.append(expected[-1] + len(piece) + 1)
    # each segment starts after the previous terminator plus the joiner
    assert starts == [e + (len(joiner) if i else 0) for i, e in enumerate(expected[:-1])]


def test_indentation_with_crlf_gives_exact_offsets():
    data = (
        isa() + "\r\n  GS*PO*A*B*20240102*1530*7*X*004010~\r\n    ST*850*0001~\r\n"
        "      BEG*00*SA*X**20240102~\r\n    SE*3*0001~\r\n  GE*1*7~\r\nIEA*1*000000001~\r\n"
    ).encode()
    doc = parse(data)
    assert doc.all_issues() == []
    offsets = {s.tag: s.offset for s in segments_of(doc)}
    for tag in ("GS", "ST", "BEG", "SE", "GE", "IEA"):
        assert offsets[tag] == data.index(f"{tag}*".encode()), tag


@pytest.mark.parametrize("term", ["\n", "\r"])
def test_newline_or_carriage_return_can_be_the_segment_terminator(term):
    """850_nodex12_2 style: the byte at offset 105 is LF (or CR), nothing else ends segments."""
    data = po_interchange(term=term)
    ic = only_interchange(parse(data))
    assert ic.delimiters.segment == term
    assert ic.groups[0].transactions[0].segments[0] == Segment(
        "BEG", ("00", "SA", "PO123", "", "20240102")
    )
    assert ic.groups[0].header.offset == 106


@pytest.mark.parametrize(
    ("term", "joiner", "blank"), [("\n", "", "\n"), ("\n", "", "  \n"), ("\r", "\n", "\r\n")]
)
def test_blank_lines_are_layout_when_a_line_break_is_the_terminator(term, joiner, blank):
    """With LF (or CR) as terminator an empty line is blank space, not an empty segment."""
    plain = po_interchange(term=term, joiner=joiner)
    cut = plain.index(b"PO1*")
    data = plain[:cut] + blank.encode() + plain[cut:]
    doc = parse(data)
    assert doc.all_issues() == []
    assert doc.interchanges == parse(plain).interchanges
    txn = doc.interchanges[0].groups[0].transactions[0]
    assert txn.segments[1].offset == data.index(b"PO1*")


def test_an_empty_segment_between_two_tilde_terminators_is_kept():
    """``~~`` is not layout: the empty segment is read (and counted, so SE01 disagrees)."""
    data = po_interchange().replace(b"CTT*1~", b"CTT*1~~")
    txn = parse(data).interchanges[0].groups[0].transactions[0]
    assert txn.segments[3] == Segment("", ())
    assert txn.segments[3].offset == data.index(b"~~") + 1
    assert [(i.code, i.element) for i in txn.issues] == [("4", "SE01")]


def test_cr_terminator_followed_by_lf_reads_crlf_files():
    """A CRLF file whose ISA ends in CR: CR terminates, the LF is a blank between segments."""
    data = po_interchange(term="\r", joiner="\n")
    doc = parse(data)
    assert doc.all_issues() == []
    ic = only_interchange(doc)
    assert ic.delimiters.segment == "\r"
    assert ic.groups[0].header.offset == 107
    assert ic.groups[0].transactions[0].segments[2].elements == ("1",)


def test_cr_lf_before_a_tilde_terminator_is_not_part_of_the_value():
    """``CTT*1\\r\\n~``: line breaks before the terminator are layout, not data."""
    data = po_interchange().replace(b"CTT*1~", b"CTT*1\r\n~")
    txn = only_interchange(parse(data)).groups[0].transactions[0]
    assert txn.segments[2] == Segment("CTT", ("1",))


# -- offsets ------------------------------------------------------------------------------


def test_every_segment_keeps_the_byte_offset_of_its_first_byte():
    data = po_interchange()
    doc = parse(data)
    segs = segments_of(doc)
    assert [s.tag for s in segs] == ["ISA", "GS", "ST", "BEG", "PO1", "CTT", "SE", "GE", "IEA"]
    expected, at = [], 0
    for piece in data.split(b"~")[:-1]:
        expected.append(at)
        at += len(piece) + 1
    assert [s.offset for s in segs] == expected
    assert segs[1].offset == data.index(b"GS*") == 106
    assert segs[3].offset == data.index(b"BEG*")


def test_offsets_are_bytes_not_characters_after_multibyte_utf8():
    """A 2-byte UTF-8 character before a segment moves its offset by two."""
    data = po_interchange().replace(b"PO123", "MÜNCHEN".encode())
    txn = only_interchange(parse(data)).groups[0].transactions[0]
    assert txn.segments[0].elements[2] == "MÜNCHEN"
    assert txn.segments[1].offset == data.index(b"PO1*")
    assert txn.segments[1].offset == len(data.decode("utf-8").split("PO1*")[0]) + 1


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 64, 105, 106, 107, 4096])
def test_chunk_boundaries_do_not_change_segments_or_offsets(chunk_size):
    """The stream is read in chunks; any chunk size gives the same tree and the same offsets."""
    data = (
        b"\xef\xbb\xbf"
        + po_interchange(joiner="\r\n")
        + po_interchange("|", ":", "\n", control="000000002")
    )
    reference = parse(data)
    events = list(read_events(io.BytesIO(data), chunk_size=chunk_size))
    assert not any(isinstance(e, DocumentIssue) for e in events)
    chunked = parse(io.BytesIO(data), chunk_size=chunk_size)
    assert chunked.interchanges == reference.interchanges
    assert [s.offset for s in segments_of(chunked)] == [s.offset for s in segments_of(reference)]


def test_lexer_tokens_carry_the_delimiters_in_force():
    data = po_interchange() + po_interchange("|", ":", "\n", control="000000002")
    tokens = list(Lexer(io.BytesIO(data)))
    assert [t.segment.tag for t in tokens].count("ISA") == 2
    second = [t.segment.tag for t in tokens].index("ISA", 1)
    assert {t.delimiters for t in tokens[:second]} == {Delimiters("*", ">", "~")}
    assert {t.delimiters for t in tokens[second:]} == {Delimiters("|", ":", "\n")}
    assert tokens[second].segment.offset == len(po_interchange())


# -- several interchanges -----------------------------------------------------------------


def test_several_interchanges_with_different_delimiters_in_one_input():
    first = po_interchange()
    second = po_interchange("|", ":", "\n", control="000000002")
    third = po_interchange("*", ":", "~", rep="^", version="00501", control="000000003")
    data = first + b"\r\n" + second + third
    doc = parse(data)
    assert doc.all_issues() == []
    assert [ic.delimiters for ic in doc.interchanges] == [
        Delimiters("*", ">", "~"),
        Delimiters("|", ":", "\n"),
        Delimiters("*", ":", "~", "^"),
    ]
    assert [ic.control_number for ic in doc.interchanges] == ["000000001", "000000002", "000000003"]
    assert [ic.header.offset for ic in doc.interchanges] == [
        0,
        len(first) + 2,
        len(first) + 2 + len(second),
    ]
    assert doc.interchanges[1].groups[0].header.offset == len(first) + 2 + 106


def test_last_segment_without_terminator_is_still_read():
    data = po_interchange()
    assert data.endswith(b"IEA*1*000000001~")
    for cut in (data[:-1], data[:-1] + b"\r\n"):
        doc = parse(cut)
        assert doc.all_issues() == []
        ic = only_interchange(doc)
        assert ic.trailer == Segment("IEA", ("1", "000000001"))
        assert ic.trailer.offset == data.index(b"IEA*")


# -- element structure --------------------------------------------------------------------


def test_composites_are_split_into_composite_components():
    data = po_interchange().replace(b"CTT*1~", b"CTT*1**C0>40>>X*>A~")
    seg = only_interchange(parse(data)).groups[0].transactions[0].segments[2]
    assert seg.elements == ("1", "", Composite(("C0", "40", "", "X")), Composite(("", "A")))
    assert seg.text(3) == "C0"


def test_repetitions_are_split_into_repeated_values_from_00402():
    data = po_interchange("*", ":", "~", rep="^", version="00501").replace(
        b"CTT*1~", b"CTT*1*A^B^*X:Y^Z:W:V*^~"
    )
    ic = only_interchange(parse(data))
    assert ic.delimiters.repetition == "^"
    seg = ic.groups[0].transactions[0].segments[2]
    assert seg.elements == (
        "1",
        Repeated(("A", "B", "")),
        Repeated((Composite(("X", "Y")), Composite(("Z", "W", "V")))),
        Repeated(("", "")),
    )
    assert seg.text(2) == "A"
    assert seg.text(3) == "X"


def test_trailing_empty_elements_are_kept_as_read():
    """The reader keeps a stray trailing separator so validation can report it."""
    data = po_interchange().replace(b"CTT*1~", b"CTT*1**~")
    seg = only_interchange(parse(data)).groups[0].transactions[0].segments[2]
    assert seg.elements == ("1", "", "")


def test_bytes_that_are_not_utf8_are_kept_as_surrogate_escapes_and_written_back():
    data = po_interchange().replace(b"PO123", b"CAF\xc9\xff")
    doc = parse(data)
    ic = only_interchange(doc)
    beg = ic.groups[0].transactions[0].segments[0]
    assert beg.elements[2] == "CAF\udcc9\udcff"
    assert serialize(ic) == data


def test_utf8_text_is_decoded_and_written_back_byte_identical():
    data = po_interchange().replace(b"PO123", "Straße 日本".encode())
    ic = only_interchange(parse(data))
    assert ic.groups[0].transactions[0].segments[0].elements[2] == "Straße 日本"
    assert serialize(ic) == data


# -- ISA problems that still let the ISA be read -------------------------------------------


def test_non_ascii_byte_in_isa_is_reported_against_its_field():
    """A Latin-1 NBSP in the padding of ISA06 is reported (TA1 006), the ISA still read."""
    text = isa().encode()
    start = text.index(b"AMAZON")
    data = text[: start + 6] + b"\xa0" + text[start + 7 :] + po_interchange()[106:]
    doc = parse(data)
    ic = doc.interchanges[0]
    assert [(i.code, i.element, i.offset) for i in ic.issues] == [("006", "ISA06", 0)]
    assert "not ASCII" in ic.issues[0].message
    assert ic.groups[0].header.offset == 106


def test_unusable_isa11_after_00402_is_reported_and_not_used_to_split():
    """ISA11 ``U`` with ISA12 00501 would cut every value holding a U: TA1 016 instead."""
    data = po_interchange(version="00501", rep="U").replace(b"PO123", b"PUMA")
    doc = parse(data)
    ic = doc.interchanges[0]
    assert ic.delimiters.repetition is None
    assert [(i.code, i.element) for i in ic.issues] == [("016", "ISA11")]
    assert ic.groups[0].transactions[0].segments[0].elements[2] == "PUMA"


# -- fatal input: exactly one DocumentIssue --------------------------------------------------


def one_document_issue(data: bytes, **options: int):
    """Read ``data``: the events must end with exactly one DocumentIssue; return its issue."""
    events = list(read_events(io.BytesIO(data), **options))
    stops = [e for e in events if isinstance(e, DocumentIssue)]
    assert len(stops) == 1, events
    assert events[-1] is stops[0]
    doc = parse(data, **options)
    assert doc.issues == (stops[0].issue,)
    assert doc.issues[0].level == "document"
    return stops[0].issue, events


def test_empty_input_is_one_document_issue_at_offset_0():
    issue, events = one_document_issue(b"")
    assert events == [events[-1]]
    assert (issue.code, issue.offset, issue.segment) == ("024", 0, "")
    assert issue.message == "input is empty: no interchange (ISA) found"


@pytest.mark.parametrize("data", [b" ", b"\r\n\r\n", b" \t\n  \r", b"\xef\xbb\xbf\n"])
def test_blank_input_is_one_document_issue_at_its_end(data):
    issue, _ = one_document_issue(data)
    assert (issue.code, issue.offset) == ("024", len(data))
    assert issue.message.startswith("input is empty")


def test_text_that_is_not_x12_is_one_document_issue_quoting_it():
    issue, _ = one_document_issue(b"  Dear supplier, please find attached ...")
    assert (issue.code, issue.offset, issue.segment) == ("024", 2, "")
    assert issue.message == "expected an interchange header 'ISA', found 'Dear supplier, pleas'"


def test_missing_first_letter_of_isa_is_rejected_before_any_envelope():
    """850_edifabric_2 style: BOM then ``SA*``."""
    data = b"\xef\xbb\xbf" + po_interchange()[1:]
    issue, events = one_document_issue(data)
    assert events == [events[-1]]
    assert (issue.code, issue.offset) == ("024", 3)
    assert "'SA*00*" in issue.message


@pytest.mark.parametrize("length", [3, 4, 60, 105])
def test_isa_cut_short_is_one_document_issue(length):
    issue, events = one_document_issue(isa()[:length].encode())
    assert events == [events[-1]]
    assert (issue.code, issue.offset, issue.segment) == ("022", 0, "ISA")
    assert issue.message == f"ISA is cut short: {length} of 106 bytes before the end of input"


def test_binary_noise_is_one_document_issue_at_its_first_non_blank_byte():
    noise = random.Random(20240102).randbytes(64 * 1024)
    issue, events = one_document_issue(noise)
    assert events == [events[-1]]
    first = len(noise) - len(noise.lstrip(b" \t\r\n"))
    assert (issue.code, issue.offset) == ("024", first)
    assert issue.message.startswith("expected an interchange header 'ISA', found ")


def test_noise_after_a_complete_interchange_keeps_the_interchange():
    good = po_interchange()
    noise = b"\x00\x01garbage" + random.Random(7).randbytes(100)
    issue, _ = one_document_issue(good + b"\r\n" + noise)
    assert (issue.code, issue.offset) == ("024", len(good) + 2)
    doc = parse(good + b"\r\n" + noise)
    assert doc.interchanges == parse(good).interchanges


def test_segment_longer_than_max_segment_is_one_document_issue():
    data = po_interchange().replace(b"CTT*1~", b"MSG*" + b"A" * 200 + b"~CTT*1~")
    issue, events = one_document_issue(data, max_segment=64)
    assert (issue.code, issue.offset, issue.segment) == ("022", data.index(b"MSG*"), "MSG")
    assert issue.message == (
        "no segment terminator '~' within 64 bytes (segment too long or terminator missing)"
    )
    # what was read before is reported; the open group and interchange are dropped
    assert [type(e) for e in events] == [InterchangeStart, GroupStart, DocumentIssue]
    assert parse(data, max_segment=64).interchanges == ()


def test_segment_of_exactly_max_segment_bytes_is_read():
    value = b"A" * (64 - len(b"MSG*"))
    data = po_interchange().replace(b"CTT*1~", b"MSG*" + value + b"~CTT*1~")
    data = data.replace(b"SE*5", b"SE*6")
    doc = parse(data, max_segment=64)
    assert doc.all_issues() == []
    assert doc.interchanges[0].groups[0].transactions[0].segments[2].elements == (value.decode(),)


def test_ten_megabyte_segment_is_one_document_issue_with_the_default_limit():
    head = po_interchange().split(b"CTT*")[0]
    data = head + b"MSG*" + b"X" * (10 * 1024 * 1024) + b"~CTT*1~SE*6*0001~GE*1*1~IEA*1*000000001~"
    events = list(read_events(io.BytesIO(data)))
    stops = [e for e in events if isinstance(e, DocumentIssue)]
    assert len(stops) == 1 and events[-1] is stops[0]
    issue = stops[0].issue
    assert (issue.code, issue.offset, issue.segment) == ("022", len(head), "MSG")
    assert f"within {DEFAULT_MAX_SEGMENT} bytes" in issue.message


def test_unterminated_isa_data_without_sixteen_separators_is_one_document_issue():
    data = b"ISA*00*" + b"x" * 300
    issue, _ = one_document_issue(data)
    assert (issue.code, issue.offset, issue.segment) == ("022", 0, "ISA")
    assert issue.message == "ISA does not have 16 elements"


UNUSABLE = "ISA delimiters are unusable "


@pytest.mark.parametrize(
    ("position", "byte", "message"),
    [
        (3, b"A", "ISA does not have 16 elements"),
        (3, b" ", "ISA delimiters are unusable (element ' ', component ' ', terminator ' ')"),
        (3, b"\xc3", "ISA element separator b'\\xc3' is not an ASCII character"),
        (104, b"7", "ISA delimiters are unusable (element '*', component '7', terminator '~')"),
        (105, b"Z", "ISA delimiters are unusable (element '*', component '>', terminator 'Z')"),
        (105, b"\x85", UNUSABLE + "(element '*', component '>', terminator '\ufffd')"),
        (104, b"\xe9", UNUSABLE + "(element '*', component '\ufffd', terminator '~')"),
    ],
)
def test_unusable_delimiter_in_the_isa_is_one_document_issue(position, byte, message):
    """Letters, digits, a blank element separator and non-ASCII bytes cannot be delimiters."""
    data = bytearray(po_interchange())
    data[position : position + 1] = byte
    issue, events = one_document_issue(bytes(data))
    assert events == [events[-1]]
    assert (issue.code, issue.offset, issue.segment) == ("022", 0, "ISA")
    assert issue.message == message


def test_loose_isa_with_empty_isa11_after_00402_is_read_without_repetition():
    """``...*1530**00501*...``: ISA11 empty. Read loosely (022 + 016), no empty separator."""
    text = isa(version="00501", rep="^").replace("*^*", "**")
    data = (text + po_interchange(version="00501", rep="^")[106:].decode()).encode()
    doc = parse(data)
    ic = doc.interchanges[0]
    assert ic.delimiters == Delimiters("*", ">", "~", None)
    codes = [(i.code, i.element) for i in ic.issues]
    assert codes == [("022", None), ("016", "ISA11")]
    assert ic.groups[0].header.offset == 105


# -- never a traceback ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_raise_and_stop_at_most_once(data):
    events = list(read_events(io.BytesIO(data), max_segment=256))
    stops = [i for i, e in enumerate(events) if isinstance(e, DocumentIssue)]
    assert len(stops) <= 1
    assert not stops or stops[0] == len(events) - 1


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from([b"", b"*", b"~", b">", b"^", b"\r\n", b"\x85", b"\xff", b" ", b"U"]),
        ),
        min_size=1,
        max_size=6,
    ),
    chunk=st.sampled_from([1, 7, 1 << 16]),
)
def test_damaged_interchanges_never_raise(edits, chunk):
    """Byte substitutions and deletions anywhere (ISA included) give data, never a traceback."""
    data = bytearray(po_interchange() + po_interchange("|", ":", "\n", rep="^", version="00501"))
    for position, replacement in edits:
        at = position % len(data)
        data[at : at + 1] = replacement
    events = list(read_events(io.BytesIO(bytes(data)), chunk_size=chunk))
    stops = [e for e in events if isinstance(e, DocumentIssue)]
    assert len(stops) <= 1
    assert not stops or events[-1] is stops[0]
    assert sum(isinstance(e, TransactionRead) for e in events) <= 2
