"""The 850 mapping: Amazon purchase orders to ERP JSON and back, exactly.

Golden files: ``sandbox_fixtures/golden/850/NAME.edi`` is an interchange from Amazon; ``NAME.json``
is the JSON array of the purchase orders it carries, in input order, each as
``gateway.erp.document_json`` writes it. Every golden set holds only what the ERP document
carries, written the way ``from_erp`` writes it, so that ``from_erp(to_erp(set))`` gives back
the very same segments.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from bench.corpus import corpus
from gateway.erp import PurchaseOrder, document_json, parse_document
from gateway.errors import MappingError
from gateway.mapping import render, translate
from gateway.mapping.ts850 import SET_ID, from_erp, to_erp
from gateway.validation import validate
from gateway.x12 import Segment, Transaction, parse, serialize
from tests.goldens import AMAZON, GOLDEN, VENDOR, WHEN, golden_source

GOLDEN_850 = GOLDEN / "850"
NAMES = sorted(path.stem for path in GOLDEN_850.glob("*.edi"))
CORPUS_SEED = 8502026


def transactions(edi: bytes, *, strict: bool = True) -> list[tuple[Transaction, str, str]]:
    """Every set of ``edi`` in input order, with its ISA13 and GS06 (``strict``: and no
    envelope issue, e.g. an SE01 count left wrong by an edit)."""
    document = parse(edi)
    assert not (strict and document.all_issues())
    return [
        (transaction, interchange.control_number, group.control_number)
        for interchange in document.interchanges
        for group in interchange.groups
        for transaction in group.transactions
    ]


def documents_json(edi: bytes) -> str:
    """The expected JSON of a golden ``.edi``: the array of its purchase orders in input order,
    each as ``document_json`` writes it, with the golden ``source``. The golden ``.json`` files
    were created once with this helper, then read against their ``.edi`` by hand."""
    documents = [
        document_json(to_erp(txn, source=golden_source(txn, isa13, gs06))).rstrip("\n")
        for txn, isa13, gs06 in transactions(edi)
    ]
    return "[\n" + ",\n".join(documents) + "\n]\n"


def golden_edi(name: str) -> bytes:
    return (GOLDEN_850 / f"{name}.edi").read_bytes()


def first_set(edi: str) -> Transaction:
    """The first set of an edited golden text (segment counts are not the mapping's concern)."""
    return transactions(edi.encode(), strict=False)[0][0]


# -- golden files --------------------------------------------------------------------------


def test_there_are_enough_golden_850s() -> None:
    """At least 12 golden interchanges, each with its expected JSON beside it."""
    assert len(NAMES) >= 12
    assert sorted(p.stem for p in GOLDEN_850.glob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_golden_850_maps_to_its_expected_json(name: str) -> None:
    """Every set of the interchange maps to the expected purchase order, text for text."""
    expected = (GOLDEN_850 / f"{name}.json").read_text()
    assert documents_json(golden_edi(name)) == expected


@pytest.mark.parametrize("name", NAMES)
def test_golden_850_round_trips_to_the_same_segments(name: str) -> None:
    """from_erp(to_erp(set)) gives back every segment between ST and SE unchanged."""
    for txn, _, _ in transactions(golden_edi(name)):
        assert from_erp(to_erp(txn)) == list(txn.segments)


@pytest.mark.parametrize("name", NAMES)
def test_golden_json_renders_back_to_the_850_and_validates(name: str) -> None:
    """The expected JSON, read as ERP documents, gives the original segments; rendered as an
    interchange from Amazon it is accepted by the validator with no finding."""
    expected = json.loads((GOLDEN_850 / f"{name}.json").read_text())
    sets = transactions(golden_edi(name))
    assert len(expected) == len(sets)
    for data, (txn, _, _) in zip(expected, sets, strict=True):
        document = parse_document(data)
        assert isinstance(document, PurchaseOrder)
        assert from_erp(document) == list(txn.segments)
        interchange = render(
            document, sender=AMAZON, receiver=VENDOR, interchange_control_number=42,
            group_control_number=7, when=WHEN,
        )  # fmt: skip
        report = validate(serialize(interchange))
        assert report.all_findings() == []
        assert report.accepted


@pytest.mark.parametrize("name", NAMES)
def test_golden_850_file_is_canonical_and_valid(name: str) -> None:
    """The golden input is what the codec writes (ISA of 106 characters, ``~`` then a newline,
    right counts) and the validator accepts it with no finding."""
    edi = golden_edi(name)
    assert len(edi.split(b"\n", 1)[0]) == 106
    assert serialize(parse(edi).interchanges[0]).replace(b"~", b"~\n") == edi
    report = validate(edi)
    assert report.all_findings() == []
    assert report.accepted


def _gs1_valid(code: str) -> bool:
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(reversed(digits[:-1]), start=1))
    return (10 - total % 10) % 10 == digits[-1]


def _isbn10_valid(code: str) -> bool:
    values = [10 if c == "X" else int(c) for c in code]
    return sum(v * (10 - i) for i, v in enumerate(values)) % 11 == 0


@pytest.mark.parametrize("name", NAMES)
def test_golden_850_identifiers_have_valid_check_digits(name: str) -> None:
    """UPC-A (12), EAN-13, GTIN-14, ISBN-13 pass GS1 mod 10, ISBN-10 mod 11; lengths are right."""
    lengths = {"UP": (12,), "EN": (13,), "UK": (14,), "IB": (10, 13)}
    for txn, _, _ in transactions(golden_edi(name)):
        for seg in txn.segments:
            if seg.tag != "PO1":
                continue
            for at in range(6, 26, 2):
                qualifier, value = seg.text(at), seg.text(at + 1)
                if qualifier not in lengths:
                    continue
                assert len(value) in lengths[qualifier], (qualifier, value)
                if qualifier == "IB" and len(value) == 10:
                    assert re.fullmatch(r"[0-9]{9}[0-9X]", value) and _isbn10_valid(value), value
                else:
                    assert value.isdigit() and _gs1_valid(value), (qualifier, value)
                if qualifier == "IB" and len(value) == 13:
                    assert value[:3] in ("978", "979"), value


def test_golden_850s_cover_the_amazon_variants() -> None:
    """Together the golden files exercise every order type, identifier kind and optional field
    the document carries, several sets and groups per interchange, 1 and 1,000 lines."""
    documents: list[PurchaseOrder] = []
    groups_per_interchange, sets_per_interchange = [], []
    for name in NAMES:
        edi = golden_edi(name)
        interchange = parse(edi).interchanges[0]
        groups_per_interchange.append(len(interchange.groups))
        sets_per_interchange.append(sum(len(g.transactions) for g in interchange.groups))
        documents += [to_erp(txn) for txn, _, _ in transactions(edi)]
    lines = [line for doc in documents for line in doc.lines]
    ids = [pid for line in lines for pid in line.product_ids]
    assert {doc.order_type for doc in documents} == {"new", "consigned", "new_product", "rush"}
    assert {pid.kind for pid in ids} >= {"upc", "ean", "gtin14", "isbn", "asin", "vendor_item"}
    assert {len(pid.value) for pid in ids if pid.kind == "isbn"} == {10, 13}
    assert max(groups_per_interchange) >= 2
    assert max(sets_per_interchange) >= 3
    assert {1, 1000} <= {len(doc.lines) for doc in documents}
    assert {doc.currency for doc in documents} >= {"USD", "CAD"}
    assert any(doc.promotion_number for doc in documents)
    assert any(doc.freight and doc.freight.incoterms for doc in documents)
    assert {doc.back_order_allowed for doc in documents} == {True, False}
    assert any(doc.ship_to.name for doc in documents)
    assert any(line.description for line in lines)
    assert any(line.list_price is not None for line in lines)
    assert any(line.list_price is None for line in lines)
    assert any(line.price_basis is None for line in lines)


# -- the generated corpus ------------------------------------------------------------------


def _r_differences(expected: list[Segment], actual: list[Segment]) -> list[str]:
    """Elements that differ, as ``PO104 '12.50' -> '12.5'``; fails on any other difference."""
    assert [s.tag for s in expected] == [s.tag for s in actual]
    found = []
    for ours, theirs in zip(expected, actual, strict=True):
        if ours == theirs:
            continue
        assert len(ours.elements) == len(theirs.elements), (ours, theirs)
        for position in range(1, len(ours.elements) + 1):
            a, b = ours.text(position), theirs.text(position)
            if a != b:
                assert Decimal(a) == Decimal(b), (ours, theirs)
                found.append(f"{ours.tag}{position:02d} {a!r} -> {b!r}")
    return found


@pytest.mark.parametrize("index", range(20))
def test_generated_corpus_maps_and_round_trips(index: int) -> None:
    """Each generated interchange maps without error; its documents survive 850 -> JSON ->
    850 -> JSON unchanged, and the segments come back identical except for unit prices, which
    bench/corpus.py writes with two decimals (``12.50``) where canonical R drops the zero."""
    edi = corpus(CORPUS_SEED, 20)[index]
    for txn, isa13, gs06 in transactions(edi):
        document = translate(txn, source=golden_source(txn, isa13, gs06))
        assert parse_document(document_json(document)) == document
        body = from_erp(document)
        again = to_erp(Transaction(txn.header, tuple(body), txn.trailer), source=document.source)
        assert again == document
        differences = _r_differences(list(txn.segments), body)
        assert all(d.startswith("PO104 ") for d in differences), differences


# -- what cannot be mapped -----------------------------------------------------------------

NE = golden_edi("ne_three_lines").decode()


def test_missing_ship_to_is_refused_naming_n1_st() -> None:
    """An 850 without an N1 loop for N101 ST cannot say where to deliver."""
    txn = first_set(NE.replace("N1*ST**92*RIC2~\n", ""))
    with pytest.raises(MappingError, match=r"has no N1 loop with N101 'ST'"):
        to_erp(txn)
    txn = first_set(NE.replace("N1*ST**92*RIC2", "N1*BT**92*RIC2"))
    with pytest.raises(MappingError, match=r"N101 'ST'"):
        to_erp(txn)


def test_unsupported_order_type_is_refused_naming_beg02() -> None:
    """BEG02 must be one of Amazon's four order types."""
    txn = first_set(NE.replace("BEG*00*NE*", "BEG*00*ZZ*"))
    with pytest.raises(MappingError, match=r"^BEG02 'ZZ' is not an Amazon order type"):
        to_erp(txn)


def test_unsupported_product_qualifier_is_refused_naming_its_element() -> None:
    """A PO1 product id qualifier the document has no kind for names its element and line."""
    txn = first_set(NE.replace("PO1*1*24*EA*12.49*PE*UP*", "PO1*1*24*EA*12.49*PE*ZZ*"))
    with pytest.raises(MappingError, match=r"^PO106 'ZZ' is not a supported product id "
                       r"qualifier \(PO1 at segment 9, line '1'\)$"):  # fmt: skip
        to_erp(txn)
    txn = first_set(NE.replace("*VN*ACM-LID-20BK", "*XX*ACM-LID-20BK"))
    with pytest.raises(MappingError, match=r"^PO110 'XX' .* line '3'\)$"):
        to_erp(txn)


def test_product_qualifier_without_value_is_refused() -> None:
    """PO108 without PO109 (a paired X12 element) names the missing element."""
    txn = first_set(NE.replace("*BP*B0C7K2T1PZ*VN*ACM-LID-20BK", "*BP"))
    with pytest.raises(MappingError, match=r"^PO109 is empty"):
        to_erp(txn)


def test_non_original_purpose_is_refused_naming_beg01() -> None:
    """BEG01 other than 00 (e.g. 01 cancellation) must not reach the ERP as a new order."""
    with pytest.raises(MappingError, match=r"^BEG01 '01' is not supported"):
        to_erp(first_set(NE.replace("BEG*00*", "BEG*01*")))


def test_half_a_delivery_window_is_refused() -> None:
    """DTM*064 without DTM*063 cannot fill the ship window."""
    with pytest.raises(MappingError, match=r"DTM\*064 comes without DTM\*063"):
        to_erp(first_set(NE.replace("DTM*063*20250324~\n", "")))


def test_unknown_back_order_code_and_freight_payment_are_refused() -> None:
    """CSH01 must be Y or N and FOB01 a shipment method of payment the document knows."""
    with pytest.raises(MappingError, match=r"^CSH01 'BK' is not Y or N"):
        to_erp(first_set(NE.replace("CSH*Y", "CSH*BK")))
    with pytest.raises(MappingError, match=r"^FOB01 'ZZ' is not a shipment method"):
        to_erp(first_set(NE.replace("FOB*CC", "FOB*ZZ")))


def test_totals_that_disagree_with_the_lines_are_refused() -> None:
    """CTT01 (number of PO1) and CTT02 (sum of PO102) guard against lost lines."""
    with pytest.raises(MappingError, match=r"^CTT01 '4' does not match the 3 PO1 lines"):
        to_erp(first_set(NE.replace("CTT*3*40", "CTT*4*40")))
    with pytest.raises(MappingError, match=r"^CTT02 '41' does not match the sum of PO102"):
        to_erp(first_set(NE.replace("CTT*3*40", "CTT*3*41")))


def test_value_the_document_cannot_hold_names_its_element() -> None:
    """A value pydantic refuses is reported with its element (here N103 not a known code)."""
    with pytest.raises(MappingError, match=r"^N103 'XX' cannot be carried"):
        to_erp(first_set(NE.replace("N1*ST**92*", "N1*ST**XX*")))
    with pytest.raises(MappingError, match=r"^PO102 '-3' cannot be carried.*line '3'"):
        to_erp(first_set(NE.replace("PO1*3*6*", "PO1*3*-3*").replace("CTT*3*40", "CTT*3*31")))


def test_from_erp_refuses_release_005010() -> None:
    """The 850 is traded at 004010 only."""
    document = to_erp(first_set(NE))
    with pytest.raises(MappingError, match=r"004010 only"):
        from_erp(document, release="005010")


def test_to_erp_refuses_another_set() -> None:
    """A transaction set that is not an 850 is not read as one."""
    txn = first_set(NE)
    other = Transaction(Segment("ST", ("855", "0001")), txn.segments, txn.trailer)
    with pytest.raises(MappingError, match=r"^ST01 '855' is not an 850"):
        to_erp(other)


# -- what is not carried, and edge values --------------------------------------------------


def test_segments_the_document_does_not_carry_are_ignored() -> None:
    """PER, N9/MSG notes, a REF and N3/N4 inside the ship-to loop and a line-level DTM do not
    change the purchase order; a REF*CR inside the N1 loop is not the vendor code."""
    noisy = (
        NE.replace("CSH*Y~\n", "CSH*Y~\nPER*BD*Buyer Desk~\n")
        .replace("N1*ST**92*RIC2~\n", "N9*L1*NOTES~\nMSG*Deliver to dock 4~\n"
                 "N1*ST**92*RIC2~\nN3*5000 Commerce Way~\nN4*Petersburg*VA*23803*US~\n"
                 "REF*CR*NOTTHEVENDOR~\n")
        .replace("CTP**LPR*24.99~\n", "CTP**LPR*24.99~\nCTP**RTL*22.99~\nDTM*002*20250320~\n")
    )  # fmt: skip
    assert to_erp(first_set(noisy)) == to_erp(first_set(NE))


def test_heading_ctp_is_not_a_line_list_price() -> None:
    """Only a CTP*LPR inside the PO1 loop is the line's list price."""
    txn = first_set(NE.replace("CTP**LPR*24.99~\n", ""))
    document = to_erp(txn)
    assert document.lines[0].list_price is None
    assert document.lines[1].list_price == Decimal("119.99")


def test_hash_total_keeps_the_last_ten_digits() -> None:
    """CTT02 (R, 10 digits) drops its left-most digits when the sum is longer (X12 CTT note),
    and to_erp accepts the truncated hash."""
    document = to_erp(first_set(NE))
    huge = document.model_copy(
        update={
            "lines": [
                line.model_copy(update={"quantity": Decimal("9999999999")})
                for line in document.lines
            ]
        }
    )
    body = from_erp(huge)
    assert body[-1] == Segment("CTT", ("3", "9999999997"))
    txn = first_set(NE)
    assert to_erp(Transaction(txn.header, tuple(body), txn.trailer)) == huge


def test_set_id_is_850() -> None:
    """The module names the set it maps."""
    assert SET_ID == "850"
