"""The writer: builds envelopes, fills every count, refuses values it cannot write safely."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from gateway.errors import X12WriteError
from gateway.x12 import (
    Composite,
    Delimiters,
    Party,
    Repeated,
    Segment,
    build_group,
    build_interchange,
    build_transaction,
    parse,
    segment_text,
    serialize,
)

WHEN = datetime(2024, 1, 2, 15, 30)
AMAZON = Party("ZZ", "AMAZON")
VENDOR = Party("ZZ", "VENDOR")


def po_body(*extra: Segment) -> list[Segment]:
    return [
        Segment("BEG", ("00", "SA", "PO123", "", "20240102")),
        Segment("PO1", ("1", "5", "EA", "9.50", "", "UP", "012345678905")),
        *extra,
        Segment("CTT", ("1",)),
    ]


def interchange(
    *body: Segment,
    version: str = "00401",
    delimiters: Delimiters | None = None,
    isa13: int = 42,
):
    txn = build_transaction("850", 1, po_body(*body))
    group = build_group(
        functional_id="PO",
        application_sender="VENDOR",
        application_receiver="AMAZON",
        control_number=7,
        version="004010" if version < "00501" else "005010",
        transactions=[txn],
        when=WHEN,
    )
    return build_interchange(
        sender=VENDOR,
        receiver=AMAZON,
        control_number=isa13,
        groups=[group],
        when=WHEN,
        version=version,
        delimiters=delimiters,
    )


# -- what is written ---------------------------------------------------------------------------


def test_serialize_writes_the_exact_interchange_with_every_count_filled():
    out = serialize(interchange())
    assert out == (
        b"ISA*00*          *00*          *ZZ*VENDOR         *ZZ*AMAZON         *240102*1530*U*"
        b"00401*000000042*0*P*>~"
        b"GS*PO*VENDOR*AMAZON*20240102*1530*7*X*004010~"
        b"ST*850*0001~"
        b"BEG*00*SA*PO123**20240102~"
        b"PO1*1*5*EA*9.50**UP*012345678905~"
        b"CTT*1~"
        b"SE*5*0001~"
        b"GE*1*7~"
        b"IEA*1*000000042~"
    )
    assert out.index(b"GS*") == 106


def test_counts_are_computed_from_the_tree_not_taken_from_its_trailers():
    """SE01/SE02, GE01/GE02 and IEA01/IEA02 are recomputed; stale trailers are ignored."""
    ic = interchange()
    group = ic.groups[0]
    txn = group.transactions[0]
    stale_txn = dataclasses.replace(txn, trailer=Segment("SE", ("99", "9999")))
    second = build_transaction("850", 2, po_body(Segment("REF", ("IA", "1"))))
    stale_group = dataclasses.replace(
        group, transactions=(stale_txn, second), trailer=Segment("GE", ("0", "0"))
    )
    other_group = build_group(
        functional_id="IN", application_sender="V", application_receiver="A", control_number=8,
        version="004010", transactions=[], when=WHEN,
    )  # fmt: skip
    stale = dataclasses.replace(
        ic, groups=(stale_group, other_group), trailer=Segment("IEA", ("5", "1"))
    )
    out = serialize(stale)
    assert b"SE*5*0001~" in out
    assert b"SE*6*0002~" in out
    assert b"GE*2*7~" in out
    assert b"GE*0*8~" in out
    assert out.endswith(b"IEA*2*000000042~")
    doc = parse(out)
    assert doc.interchanges[0].groups[0].trailer == Segment("GE", ("2", "7"))
    assert doc.interchanges[0].trailer == Segment("IEA", ("2", "000000042"))


@pytest.mark.parametrize(("number", "isa13"), [(1, "000000001"), (999_999_999, "999999999")])
def test_isa13_is_the_control_number_zero_padded_to_nine_digits(number, isa13):
    ic = interchange(isa13=number)
    assert ic.control_number == isa13
    assert ic.header.elements[12] == isa13
    assert serialize(ic).endswith(f"IEA*1*{isa13}~".encode())


@pytest.mark.parametrize(
    ("number", "st02"), [(1, "0001"), (42, "0042"), (12345, "12345"), ("000000017", "000000017")]
)
def test_st02_is_the_control_number_with_at_least_four_digits(number, st02):
    txn = build_transaction("850", number, po_body())
    assert txn.header == Segment("ST", ("850", st02))
    assert txn.trailer == Segment("SE", ("5", st02))


def test_gs06_and_ge02_are_the_group_control_number():
    group = interchange().groups[0]
    assert group.header.elements == (
        "PO", "VENDOR", "AMAZON", "20240102", "1530", "7", "X", "004010",
    )  # fmt: skip
    assert group.trailer == Segment("GE", ("1", "7"))


@pytest.mark.parametrize(
    ("build", "element"),
    [
        (lambda: build_transaction("850", 0, []), "ST02"),
        (lambda: build_transaction("850", -1, []), "ST02"),
        (lambda: build_transaction("850", 1_000_000_000, []), "ST02"),
        (lambda: build_transaction("850", "123", []), "ST02"),
        (lambda: build_transaction("850", "1234567890", []), "ST02"),
        (lambda: interchange(isa13=0), "ISA13"),
        (lambda: interchange(isa13=1_000_000_000), "ISA13"),
        (
            lambda: build_group(
                functional_id="PO",
                application_sender="A",
                application_receiver="B",
                control_number=0,
                version="004010",
                transactions=[],
                when=WHEN,
            ),
            "GS06",
        ),
    ],
)
def test_control_numbers_out_of_range_are_refused_naming_the_element(build, element):
    with pytest.raises(X12WriteError) as caught:
        build()
    assert caught.value.element == element
    assert str(caught.value).startswith(f"{element}: ")


def test_version_00501_writes_the_repetition_separator_in_isa11():
    ic = interchange(Segment("REF", (Repeated(("A", "B")),)), version="00501")
    assert ic.delimiters == Delimiters("*", ">", "~", "^")
    out = serialize(ic)
    assert out[81:89] == b"*^*00501"
    assert b"REF*A^B~" in out
    assert parse(out).interchanges == (ic,)


def test_no_cr_or_lf_is_ever_emitted():
    out = serialize(interchange(Segment("MSG", ("FREE TEXT",))))
    assert b"\r" not in out
    assert b"\n" not in out


def test_trailing_empty_elements_and_components_are_dropped():
    delims = Delimiters()
    assert segment_text(Segment("N1", ("ST", "", "", "")), delims) == "N1*ST~"
    assert segment_text(Segment("N1", ("ST", "", "92", "X1")), delims) == "N1*ST**92*X1~"
    assert segment_text(Segment("N1", ("ST", Composite(("A", "", "")))), delims) == "N1*ST*A~"
    assert segment_text(Segment("N1", ("ST", Composite(("", "B", "")), "")), delims) == (
        "N1*ST*>B~"
    )
    assert segment_text(Segment("N1", ("ST", Composite(("", "")))), delims) == "N1*ST~"
    assert segment_text(Segment("CTT", ()), delims) == "CTT~"


def test_segment_text_uses_the_given_delimiters():
    delims = Delimiters("|", ":", "\n", "{")
    seg = Segment("CTP", ("", "UCP", Repeated((Composite(("A", "B")), "C")), "", "9.5"))
    assert segment_text(seg, delims) == "CTP||UCP|A:B{C||9.5\n"


def test_newline_terminator_is_written_when_it_is_the_interchanges_delimiter():
    ic = interchange(delimiters=Delimiters("|", ":", "\n"))
    out = serialize(ic)
    assert out[105:106] == b"\n"
    assert out.count(b"\n") == 9  # nine segments, nothing else
    assert parse(out).interchanges == (ic,)


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["*", ">", "~", "^"])
def test_a_value_containing_a_delimiter_is_refused_naming_the_element(char):
    ic = interchange(version="00501")
    txn = ic.groups[0].transactions[0]
    bad = Segment("PO1", ("1", "5", "EA", "9.50", "", "UP", f"0123{char}45"))
    ic = dataclasses.replace(
        ic,
        groups=(
            dataclasses.replace(
                ic.groups[0],
                transactions=(dataclasses.replace(txn, segments=(txn.segments[0], bad)),),
            ),
        ),
    )
    with pytest.raises(X12WriteError) as caught:
        serialize(ic)
    assert caught.value.element == "PO107"
    assert f"contains the delimiter {char!r}" in str(caught.value)


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"])
def test_a_value_containing_a_control_character_is_refused_naming_the_element(char):
    with pytest.raises(X12WriteError) as caught:
        segment_text(Segment("PO1", ("1", "5", "EA", "9.50", "", "UP", f"A{char}B")), Delimiters())
    assert caught.value.element == "PO107"
    assert f"contains the control character {char!r}" in str(caught.value)


def test_a_component_containing_a_delimiter_is_refused_naming_element_and_component():
    seg = Segment("CTP", ("", "UCP", "9.50", "1", Composite(("CA", "1*2"))))
    with pytest.raises(X12WriteError) as caught:
        segment_text(seg, Delimiters())
    assert caught.value.element == "CTP05-2"
    assert str(caught.value) == "CTP05-2: value '1*2' contains the delimiter '*'"


def test_a_repeated_value_with_a_control_character_is_refused_naming_the_element():
    seg = Segment("REF", ("ZZ", Repeated(("A", Composite(("B", "C\x07"))))))
    with pytest.raises(X12WriteError) as caught:
        segment_text(seg, Delimiters(repetition="^"))
    assert caught.value.element == "REF02-2"


def test_a_repeated_value_before_00402_is_refused():
    with pytest.raises(X12WriteError) as caught:
        serialize(interchange(Segment("REF", ("ZZ", Repeated(("A", "B"))))))
    assert caught.value.element == "REF02"
    assert "no repetition separator (before 00402)" in str(caught.value)


def test_the_repetition_character_is_data_before_00402():
    ic = interchange(Segment("REF", ("ZZ", "A^B")))
    out = serialize(ic)
    assert b"REF*ZZ*A^B~" in out
    assert parse(out).interchanges == (ic,)


def test_a_lone_surrogate_is_refused_but_surrogate_escapes_are_written_as_bytes():
    """U+DC80..U+DCFF stand for bytes the reader could not decode; other surrogates cannot be
    encoded at all."""
    with pytest.raises(X12WriteError) as caught:
        segment_text(Segment("N1", ("ST", "A\ud800")), Delimiters())
    assert caught.value.element == "N102"
    out = serialize(interchange(Segment("N1", ("ST", "CAF\udcc9"))))
    assert b"N1*ST*CAF\xc9~" in out


@pytest.mark.parametrize("tag", ["", "N", "n1", "ABCD", "1234567", "N1 ", "Ñ1", "N*"])
def test_a_segment_id_that_is_not_2_to_3_upper_case_letters_or_digits_is_refused(tag):
    with pytest.raises(X12WriteError) as caught:
        segment_text(Segment(tag, ("X",)), Delimiters())
    assert caught.value.element == tag


@pytest.mark.parametrize("tag", ["N1", "PO1", "G62", "N9", "AK3", "TA1", "ISB"])
def test_two_or_three_upper_case_letters_or_digits_are_a_segment_id(tag):
    assert segment_text(Segment(tag, ("X",)), Delimiters()) == f"{tag}*X~"


@pytest.mark.parametrize(
    ("sender", "receiver", "element"),
    [
        (Party("ZZ", "A" * 16), AMAZON, "ISA06"),
        (AMAZON, Party("ZZ", "B" * 16), "ISA08"),
        (Party("ZZ", ""), AMAZON, "ISA06"),
        (Party("", "AMAZON"), AMAZON, "ISA05"),
        (Party("ZZZ", "AMAZON"), AMAZON, "ISA05"),
        (AMAZON, Party("", "VENDOR"), "ISA07"),
    ],
)
def test_isa_party_widths_are_enforced_when_building(sender, receiver, element):
    with pytest.raises(X12WriteError) as caught:
        build_interchange(sender=sender, receiver=receiver, control_number=1, groups=[], when=WHEN)
    assert caught.value.element == element


@pytest.mark.parametrize(
    ("position", "value", "message"),
    [
        (5, "Z", "must be 2 characters, found 1"),
        (6, "AMAZON", "must be 15 characters, found 6"),
        (14, "01", "must be 1 characters, found 2"),
        (15, "PP", "must be 1 characters, found 2"),
        (6, "CAFÉ".ljust(15), "is not ASCII"),
        (6, "AMA*ON".ljust(15), "contains the delimiter '*'"),
        (2, "\t" * 10, "contains the control character"),
        (11, "*", "contains the delimiter '*'"),
    ],
)
def test_isa_fields_are_fixed_width_ascii_without_delimiters(position, value, message):
    """Widths count bytes on the wire: a non-ASCII character would shift every later field."""
    ic = interchange()
    elements = list(ic.header.elements)
    elements[position - 1] = value
    ic = dataclasses.replace(ic, header=Segment("ISA", tuple(elements)))
    with pytest.raises(X12WriteError) as caught:
        serialize(ic)
    assert caught.value.element == f"ISA{position:02d}"
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("version", "delimiters", "element"),
    [
        ("00501", Delimiters("*", ">", "~", None), "ISA11"),
        ("00401", Delimiters("*", ">", "~", "^"), "ISA11"),
        ("00401", Delimiters("*", "*", "~"), "ISA"),
        ("00501", Delimiters("*", ">", "~", ">"), "ISA"),
        ("00401", Delimiters("A", ">", "~"), "ISA"),
        ("00401", Delimiters(" ", ">", "~"), "ISA"),
        ("00401", Delimiters("*", ">", "§"), "ISA"),
        ("00401", Delimiters("*", "7", "~"), "ISA16"),
        ("00401", Delimiters("*", ">", "~~"), "ISA"),
        ("00501", Delimiters("*", ">", "~", "U"), "ISA11"),
    ],
)
def test_delimiters_the_reader_could_not_take_back_are_refused(version, delimiters, element):
    """00501 needs ISA11 as repetition separator (else ``U`` would split every value with a
    U); before 00402 there is none; delimiters are distinct single ASCII punctuation."""
    ic = interchange(version=version)
    ic = dataclasses.replace(ic, delimiters=delimiters)
    with pytest.raises(X12WriteError) as caught:
        serialize(ic)
    assert caught.value.element == element


def test_x12_write_error_message_names_the_element_first():
    error = X12WriteError("value 'A*B' contains the delimiter '*'", element="PO107")
    assert str(error) == "PO107: value 'A*B' contains the delimiter '*'"
    assert error.element == "PO107"
