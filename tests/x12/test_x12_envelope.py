"""Envelope checks of X12.5/X12.6: each check of the table in ``envelope.py`` with its code.

Each input is one correct interchange with one thing broken; the expected issue names its
level, code, element, segment and byte offset (computed from the input bytes).
"""

from __future__ import annotations

import io
import os

import pytest

from gateway.x12 import (
    DocumentIssue,
    GroupEnd,
    GroupStart,
    InterchangeEnd,
    InterchangeStart,
    Segment,
    TransactionRead,
    X12Document,
    parse,
    read_events,
)
from tests.conftest import SHARED
from tests.x12text import isa

SAMPLES = SHARED / "samples" / "x12"



def x12(*segments: str, head: str | None = None) -> bytes:
    """An ISA (default :func:`isa`) followed by ``segments``, each terminated by ``~``."""
    return ((head if head is not None else isa()) + "".join(s + "~" for s in segments)).encode()


def po_set(st02: str = "0001", *, st01: str = "850", se01: str = "4", se02: str | None = None):
    return [
        f"ST*{st01}*{st02}",
        "BEG*00*SA*PO1**20240102",
        "PO1*1*5*EA*9.50**UP*012345678905",
        f"SE*{se01}*{se02 if se02 is not None else st02}",
    ]


def gs(gs06: str = "1", gs01: str = "PO") -> str:
    return f"GS*{gs01}*AMAZON*VENDOR*20240102*1530*{gs06}*X*004010"


def valid() -> bytes:
    """Two groups (PO with two 850s, IN with one 810), one interchange: no issue at all."""
    return x12(
        gs("1"),
        *po_set("0001"),
        *po_set("0002"),
        "GE*2*1",
        gs("2", "IN"),
        "ST*810*0001",
        "BIG*20240102*INV1**PO1",
        "TDS*4750",
        "SE*4*0001",
        "GE*1*2",
        "IEA*2*000000001",
    )




def summary(doc: X12Document) -> list[tuple]:
    """(level, code, element, segment, offset) of every issue, in tree order."""
    return [(i.level, i.code, i.element, i.segment, i.offset) for i in doc.all_issues()]


# -- the control case -----------------------------------------------------------------------


def test_a_correct_interchange_has_no_issue_and_the_expected_shape():
    data = valid()
    doc = parse(data)
    assert summary(doc) == []
    (ic,) = doc.interchanges
    assert ic.control_number == "000000001"
    assert ic.sender == ("ZZ", "AMAZON")
    assert ic.receiver == ("ZZ", "VENDOR")
    assert ic.version == "00401"
    assert [g.functional_id for g in ic.groups] == ["PO", "IN"]
    assert [g.control_number for g in ic.groups] == ["1", "2"]
    assert [g.version for g in ic.groups] == ["004010", "004010"]
    assert [[t.set_id for t in g.transactions] for g in ic.groups] == [["850", "850"], ["810"]]
    assert [t.control_number for t in ic.groups[0].transactions] == ["0001", "0002"]
    assert ic.groups[0].trailer == Segment("GE", ("2", "1"))
    assert ic.trailer == Segment("IEA", ("2", "000000001"))
    assert ic.groups[1].transactions[0].trailer.offset == data.index(b"SE*4*0001~GE*1*2")


def test_events_come_in_input_order_with_one_transaction_each():
    events = list(read_events(io.BytesIO(valid())))
    assert [type(e) for e in events] == [
        InterchangeStart,
        GroupStart,
        TransactionRead,
        TransactionRead,
        GroupEnd,
        GroupStart,
        TransactionRead,
        GroupEnd,
        InterchangeEnd,
    ]
    assert [e.transaction.control_number for e in events if isinstance(e, TransactionRead)] == [
        "0001",
        "0002",
        "0001",
    ]
    assert events[-1].trailer == Segment("IEA", ("2", "000000001"))


def test_parse_reads_bytes_paths_and_streams_alike(tmp_path):
    data = valid()
    path = tmp_path / "in.edi"
    path.write_bytes(data)
    expected = parse(data).interchanges
    assert parse(path).interchanges == expected
    assert parse(str(path)).interchanges == expected
    assert parse(io.BytesIO(data)).interchanges == expected


def test_sets_of_unknown_id_are_not_checked_against_gs01():
    data = x12(gs("1"), *po_set(st01="123"), "GE*1*1", "IEA*1*000000001")
    assert summary(parse(data)) == []


def test_counts_with_leading_zeros_are_accepted():
    data = x12(gs("1"), *po_set(se01="0004"), "GE*01*1", "IEA*001*000000001")
    assert summary(parse(data)) == []


# -- one broken thing each ------------------------------------------------------------------


def test_iea02_not_matching_isa13_is_ta1_001():
    data = valid().replace(b"IEA*2*000000001", b"IEA*2*000000009")
    assert summary(parse(data)) == [
        ("interchange", "001", "IEA02", "IEA", data.index(b"IEA*")),
    ]
    message = parse(data).all_issues()[0].message
    assert "IEA02 '000000009' does not match ISA13 '000000001'" in message


@pytest.mark.parametrize("iea01", [b"1", b"3", b"X", b""])
def test_iea01_not_the_number_of_groups_is_ta1_021(iea01):
    data = valid().replace(b"IEA*2*", b"IEA*" + iea01 + b"*")
    assert summary(parse(data)) == [
        ("interchange", "021", "IEA01", "IEA", data.index(b"IEA*")),
    ]


def test_ge02_not_matching_gs06_is_ak905_4():
    data = valid().replace(b"GE*1*2", b"GE*1*3")
    assert summary(parse(data)) == [("group", "4", "GE02", "GE", data.index(b"GE*1*3"))]
    assert parse(data).interchanges[0].groups[1].issues[0].message == (
        "GE02 '3' does not match GS06 '2'"
    )


@pytest.mark.parametrize("ge01", [b"1", b"3", b"two"])
def test_ge01_not_the_number_of_sets_is_ak905_5(ge01):
    data = valid().replace(b"GE*2*1", b"GE*" + ge01 + b"*1")
    assert summary(parse(data)) == [
        ("group", "5", "GE01", "GE", data.index(b"GE*" + ge01 + b"*1")),
    ]


@pytest.mark.parametrize("gs06", ["A1", "1234567890", "", "-1"])
def test_gs06_not_a_1_to_9_digit_number_is_ak905_6(gs06):
    data = valid().replace(b"*2*X*004010", f"*{gs06}*X*004010".encode())
    data = data.replace(b"GE*1*2", f"GE*1*{gs06}".encode())
    second_gs = data.index(b"GS*IN")
    assert summary(parse(data)) == [("group", "6", "GS06", "GS", second_gs)]


def test_duplicate_gs06_in_one_interchange_is_ak905_19_on_the_later_group():
    data = valid().replace(b"*2*X*004010", b"*1*X*004010").replace(b"GE*1*2", b"GE*1*1")
    assert summary(parse(data)) == [("group", "19", "GS06", "GS", data.index(b"GS*IN"))]
    assert parse(data).interchanges[0].groups[0].issues == ()


def test_same_gs06_in_two_interchanges_is_no_issue():
    first = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001")
    second = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000002", head=isa(control="000000002"))
    assert summary(parse(first + second)) == []


def test_st01_outside_gs01_functional_group_is_ak502_1():
    """An 850 belongs in a PO group; in an IN group it is reported on its ST01."""
    data = valid().replace(b"GS*PO", b"GS*IN", 1)
    doc = parse(data)
    first, second = (data.index(b"ST*850*0001"), data.index(b"ST*850*0002"))
    assert summary(doc) == [
        ("transaction", "1", "ST01", "ST", first),
        ("transaction", "1", "ST01", "ST", second),
    ]
    assert doc.all_issues()[0].message == (
        "transaction set 850 belongs in a functional group PO, not in GS01 'IN'"
    )


def test_se02_not_matching_st02_is_ak502_3():
    data = valid().replace(b"SE*4*0002", b"SE*4*0003")
    assert summary(parse(data)) == [
        ("transaction", "3", "SE02", "SE", data.index(b"SE*4*0003")),
    ]


@pytest.mark.parametrize("se01", [b"3", b"5", b"", b"four"])
def test_se01_not_the_number_of_segments_is_ak502_4(se01):
    """SE01 counts ST..SE inclusive (4 here)."""
    data = valid().replace(b"SE*4*0002", b"SE*" + se01 + b"*0002")
    at = data.index(b"SE*" + se01 + b"*0002")
    assert summary(parse(data)) == [("transaction", "4", "SE01", "SE", at)]
    message = parse(data).all_issues()[0].message
    assert f"SE01 says {se01.decode()!r} segments, the set has 4" in message


def test_duplicate_st02_in_a_group_is_ak502_23_on_the_later_set():
    data = valid().replace(b"ST*850*0002", b"ST*850*0001").replace(b"SE*4*0002", b"SE*4*0001")
    second = data.index(b"ST*850*0001", data.index(b"ST*850*0001") + 1)
    assert summary(parse(data)) == [("transaction", "23", "ST02", "ST", second)]


def test_same_st02_in_two_groups_is_no_issue():
    """The 810 in group 2 and the first 850 in group 1 both use 0001 (valid())."""
    assert summary(parse(valid())) == []


def test_duplicate_isa13_from_one_sender_is_ta1_025_on_the_later_interchange():
    one = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001")
    data = one + b"\n" + one
    doc = parse(data)
    assert summary(doc) == [("interchange", "025", "ISA13", "ISA", len(one) + 1)]
    assert doc.interchanges[0].issues == ()


def test_same_isa13_from_two_senders_is_no_issue():
    one = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001")
    other = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001", head=isa(sender="AMAZONDS"))
    assert summary(parse(one + other)) == []


# -- missing trailers -------------------------------------------------------------------------


def test_missing_se_is_ak502_2_where_the_next_st_starts():
    data = valid().replace(b"SE*4*0001~", b"", 1)
    next_st = data.index(b"ST*850*0002")
    doc = parse(data)
    assert summary(doc) == [("transaction", "2", None, "SE", next_st)]
    txn = doc.interchanges[0].groups[0].transactions[0]
    assert txn.trailer is None
    assert [s.tag for s in txn.segments] == ["BEG", "PO1"]


def test_missing_se_before_ge_is_ak502_2_at_the_ge():
    data = valid().replace(b"SE*4*0002~", b"")
    assert summary(parse(data)) == [
        ("transaction", "2", None, "SE", data.index(b"GE*2*1")),
    ]


def test_missing_ge_is_ak905_3_where_the_next_gs_starts():
    data = valid().replace(b"GE*2*1~", b"")
    doc = parse(data)
    assert summary(doc) == [("group", "3", None, "GE", data.index(b"GS*IN"))]
    assert doc.interchanges[0].groups[0].trailer is None
    assert len(doc.interchanges[0].groups) == 2


def test_missing_ge_before_iea_is_ak905_3_at_the_iea():
    data = valid().replace(b"GE*1*2~", b"")
    assert summary(parse(data)) == [("group", "3", None, "GE", data.index(b"IEA*"))]


def test_missing_iea_at_end_of_input_is_ta1_023_at_the_end():
    data = valid().replace(b"IEA*2*000000001~", b"")
    doc = parse(data)
    assert summary(doc) == [("interchange", "023", None, "IEA", len(data))]
    assert doc.interchanges[0].trailer is None
    assert len(doc.interchanges[0].groups) == 2


def test_missing_iea_before_the_next_isa_is_ta1_023_at_that_isa():
    first = valid().replace(b"IEA*2*000000001~", b"")
    second = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000002", head=isa(control="000000002"))
    doc = parse(first + second)
    assert summary(doc) == [("interchange", "023", None, "IEA", len(first))]
    assert [ic.control_number for ic in doc.interchanges] == ["000000001", "000000002"]


def test_input_ending_inside_a_set_reports_se_ge_and_iea_missing():
    data = x12(gs("1"), "ST*850*0001", "BEG*00*SA*PO1**20240102")
    end = len(data)
    assert summary(parse(data)) == [
        ("interchange", "023", None, "IEA", end),
        ("group", "3", None, "GE", end),
        ("transaction", "2", None, "SE", end),
    ]


# -- ISA fields ---------------------------------------------------------------------------------


def test_isa_not_fixed_width_is_read_loosely_with_022_and_the_field_code():
    """860_oopfactory_1 style: ISA06 has 14 characters; the ISA is still read."""
    head = isa(fields={6: "AMAZON".ljust(14)})
    assert len(head) == 105
    data = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001", head=head)
    doc = parse(data)
    (ic,) = doc.interchanges
    assert summary(doc) == [
        ("interchange", "022", None, "ISA", 0),
        ("interchange", "006", "ISA06", "ISA", 0),
    ]
    assert "ISA06 has 14 of 15" in ic.issues[0].message
    assert ic.issues[1].message == "ISA06 must be 15 characters, found 14 ('AMAZON        ')"
    assert ic.sender == ("ZZ", "AMAZON")
    assert ic.header.elements[15] == ">"
    assert ic.delimiters.segment == "~"
    assert ic.groups[0].header.offset == 105 == data.index(b"GS*")
    assert len(ic.groups[0].transactions) == 1


def test_isa_with_compensating_field_widths_is_reported_per_field():
    """106 bytes in total but ISA06 one short and ISA08 one long: both fields reported."""
    head = isa(fields={6: "AMAZON".ljust(14), 8: "VENDOR".ljust(16)})
    assert len(head) == 106
    data = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001", head=head)
    assert [(c, e) for _, c, e, _, _ in summary(parse(data))] == [
        ("006", "ISA06"),
        ("008", "ISA08"),
    ]


@pytest.mark.parametrize(
    ("position", "value", "code"),
    [
        (1, "0A", "010"),
        (3, "  ", "012"),
        (5, "  ", "005"),
        (6, " " * 15, "006"),
        (7, "  ", "007"),
        (8, " " * 15, "008"),
        (9, "241332", "014"),
        (10, "2561", "015"),
        (11, "^", "016"),
        (12, "00040", "017"),
        (13, "00000000A", "018"),
        (14, "2", "019"),
        (15, "X", "020"),
    ],
)
def test_bad_isa_field_value_is_reported_with_its_ta1_code(position, value, code):
    head = isa(fields={position: value})
    data = x12(gs("1"), *po_set(), "GE*1*1", f"IEA*1*{head[90:99]}", head=head)
    doc = parse(data)
    element = f"ISA{position:02d}"
    assert summary(doc) == [("interchange", code, element, "ISA", 0)]
    assert doc.interchanges[0].issues[0].message.startswith(element)


def test_isa_issues_are_on_the_interchange_start_event_and_in_the_tree():
    data = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001", head=isa(fields={14: "2"}))
    start = next(iter(read_events(io.BytesIO(data))))
    assert isinstance(start, InterchangeStart)
    assert [(i.code, i.element) for i in start.issues] == [("019", "ISA14")]
    (ic,) = parse(data).interchanges
    assert [(i.code, i.element) for i in ic.issues] == [("019", "ISA14")]
    assert ic.service_segments == ()


def test_delimiters_that_are_not_distinct_are_ta1_026():
    """00501 with ISA11 ``>`` equal to ISA16 ``>``."""
    head = isa(version="00501", rep=">", comp=">")
    data = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000001", head=head)
    assert summary(parse(data)) == [("interchange", "026", None, "ISA", 0)]


# -- service and orphan segments ---------------------------------------------------------------


def test_isb_ise_and_ta1_between_isa_and_gs_are_kept_as_service_segments():
    data = x12("ISB*1", "ISE*200601*0515*04", "TA1*000000007*240101*1200*A*000", gs("1"),
               *po_set(), "GE*1*1", "IEA*1*000000001")  # fmt: skip
    doc = parse(data)
    assert summary(doc) == []
    (ic,) = doc.interchanges
    assert ic.service_segments == (
        Segment("ISB", ("1",)),
        Segment("ISE", ("200601", "0515", "04")),
        Segment("TA1", ("000000007", "240101", "1200", "A", "000")),
    )
    assert [s.offset for s in ic.service_segments] == [106, data.index(b"ISE"), data.index(b"TA1")]
    end = list(read_events(io.BytesIO(data)))[-1]
    assert isinstance(end, InterchangeEnd)
    assert end.service_segments == ic.service_segments


def test_sample_with_isb_and_ise_keeps_them():
    if not SAMPLES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SAMPLES} is missing")
        pytest.skip(f"{SAMPLES} is absent (public samples live outside the repository)")
    doc = parse(SAMPLES / "997_staedi_5.edi")
    assert summary(doc) == []
    assert [s.tag for s in doc.interchanges[0].service_segments] == ["ISB", "ISE"]


OUTSIDE_GROUP = "a functional group (not between GS and GE)"
OUTSIDE_SET = "a transaction set (not between ST and SE)"


@pytest.mark.parametrize(
    ("segments", "orphan", "where"),
    [
        (["REF*IA*1", gs("1"), *po_set(), "GE*1*1"], "REF", OUTSIDE_GROUP),
        ([gs("1"), *po_set(), "GE*1*1", "REF*IA*1"], "REF", OUTSIDE_GROUP),
        ([gs("1"), "REF*IA*1", *po_set(), "GE*1*1"], "REF", OUTSIDE_SET),
        ([gs("1"), *po_set(), "REF*IA*1", "GE*1*1"], "REF", OUTSIDE_SET),
        ([gs("1"), *po_set(), "GE*1*1", "GE*1*1"], "GE", "a functional group (GE without GS)"),
        ([gs("1"), *po_set(), "SE*2*0001", "GE*1*1"], "SE", OUTSIDE_SET),
        (["ISB*1", gs("1"), *po_set(), "GE*1*1", "ISE*1"], "ISE", OUTSIDE_GROUP),
    ],
)
def test_segment_outside_its_envelope_is_ta1_024_at_its_offset(segments, orphan, where):
    data = x12(*segments, "IEA*1*000000001")
    marker = f"~{orphan}*".encode()
    at = data.rindex(marker) + 1
    doc = parse(data)
    assert summary(doc) == [("interchange", "024", None, orphan, at)]
    assert doc.all_issues()[0].message == f"segment {orphan} is outside {where}"
    assert len(doc.interchanges[0].groups[0].transactions) == 1


def test_st_without_gs_makes_the_set_orphans():
    """997_sezna_1 style: ST directly under ISA. Every segment of the set is reported."""
    data = x12(*po_set(), "IEA*0*000000001")
    doc = parse(data)
    expected = [
        ("interchange", "024", None, tag, data.index(f"~{tag}*".encode()) + 1)
        for tag in ("ST", "BEG", "PO1", "SE")
    ]
    assert summary(doc) == expected
    assert doc.interchanges[0].groups == ()
    assert doc.all_issues()[0].message == "segment ST is outside a functional group (ST without GS)"


def test_a_problem_in_one_interchange_does_not_stop_the_next():
    bad = valid().replace(b"GE*2*1", b"GE*9*1")
    good = x12(gs("1"), *po_set(), "GE*1*1", "IEA*1*000000002", head=isa(control="000000002"))
    doc = parse(bad + good)
    assert [(i.code, i.element) for i in doc.all_issues()] == [("5", "GE01")]
    assert doc.interchanges[1].groups[0].issues == ()
    assert not any(isinstance(e, DocumentIssue) for e in read_events(io.BytesIO(bad + good)))
