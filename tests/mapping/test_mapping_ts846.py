"""846 Inventory Advice: InventoryAdvice exports -> X12 004010, and back.

Contract (issue 3): every golden export in ``sandbox_fixtures/golden/846`` renders byte for
byte to its ``.edi``; the X12 reads back to the same document; the renderings are accepted
by the 846 map with no finding; CTT counts the LIN loops; other releases and malformed
846s are MappingErrors naming the element.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.erp import InventoryAdvice, Location, ProductId
from gateway.errors import MappingError
from gateway.mapping import render, ts846
from gateway.x12 import Segment, Transaction, build_transaction, parse
from tests.conftest import FIXTURES
from tests.goldens import AMAZON, VENDOR, WHEN, golden_names, load_document, render_golden

NAMES = golden_names("846")


def _transaction(document: InventoryAdvice) -> Transaction:
    (interchange,) = parse(render_golden(document)).interchanges
    return interchange.groups[0].transactions[0]


def test_golden_set_has_three_documents_or_more() -> None:
    """At least 3 golden inventory advices."""
    assert len(NAMES) >= 3






@pytest.mark.parametrize("name", NAMES)
def test_ctt_counts_the_lin_loops(name: str) -> None:
    """CTT01 is the number of LIN segments (items); CTT ends the body."""
    body = ts846.from_erp(load_document("846", name))
    assert body[-1] == Segment("CTT", (str(sum(s.tag == "LIN" for s in body)),))


def test_layout_of_one_item() -> None:
    """BIA, N1*SF with the warehouse, then per item LIN with no LIN01, CTP**NET when there
    is a cost, QTY*33 and QTY*17 (when on hand is given) with the unit."""
    body = ts846.from_erp(load_document("846", "warehouse_daily"))
    assert body[:7] == [
        Segment("BIA", ("00", "DD", "ACMEINV20250310", "20250310")),
        Segment("N1", ("SF", "ACME HOUSEWARES DC", "92", "ACMEDC1")),
        Segment("LIN", ("", "UP", "850001234016", "VN", "ACM-TMB-20SS")),
        Segment("CTP", ("", "NET", "12.49")),
        Segment("QTY", ("33", "150", "EA")),
        Segment("QTY", ("17", "172", "EA")),
        Segment("LIN", ("", "EN", "4061234567895", "VN", "ACM-BTL-1L-CS6")),
    ]
    assert body[7] == Segment("QTY", ("33", "0", "CA"))


def test_replace_purpose_and_gln_warehouse() -> None:
    """BIA01 05 for a replacement; a GLN warehouse is N103 UL; a nameless one has no N102."""
    assert ts846.from_erp(load_document("846", "replace_correction"))[:2] == [
        Segment("BIA", ("05", "DD", "ACMEINV20250311", "20250311")),
        Segment("N1", ("SF", "", "92", "ACMEDC2")),
    ]
    n1 = ts846.from_erp(load_document("846", "gln_warehouse_many_items"))[1]
    assert n1 == Segment("N1", ("SF", "ACME HOUSEWARES WEST DC", "UL", "0850001234009"))


def test_decimal_quantities_and_costs_keep_their_value() -> None:
    """Quantities and costs are written as X12 R (no trailing zeros) and read back equal."""
    document = InventoryAdvice(
        advice_number="ACMEINV1", advice_date="2025-03-10",
        warehouse=Location(code="ACMEDC1"),
        items=[{"product_ids": [ProductId(kind="vendor_item", value="ACM-COFFEE-BULK")],
                "quantity_available": "12.5", "quantity_on_hand": "100.250", "unit": "LB",
                "unit_cost": "0.3750"}],
    )  # fmt: skip
    body = ts846.from_erp(document)
    assert body[3:6] == [
        Segment("CTP", ("", "NET", "0.375")),
        Segment("QTY", ("33", "12.5", "LB")),
        Segment("QTY", ("17", "100.25", "LB")),
    ]
    back = ts846.to_erp(_transaction(document))
    assert back == document
    assert back.items[0].unit_cost == Decimal("0.375")


def test_the_amazon_sample_846_is_read() -> None:
    """The maps' sample 846 (LIN01 line numbers, CUR and SCH that the model does not carry)
    reads as its warehouse and items."""
    text = (FIXTURES / "x12" / "846_amazon.edi").read_bytes()
    transaction = parse(text).interchanges[0].groups[0].transactions[0]
    advice = ts846.to_erp(transaction)
    assert advice.advice_number == "ACMEINV20250314"
    assert advice.warehouse == Location(qualifier="92", code="ACMEDC1", name="ACME HOUSEWARES DC")
    assert [(i.product_ids[0].value, i.quantity_available, i.unit, i.unit_cost)
            for i in advice.items] == [
        ("850001234016", Decimal(150), "EA", Decimal("12.49")),
        ("4061234567895", Decimal(0), "CA", None),
        ("850001234030", Decimal(40), "EA", None),
    ]  # fmt: skip


def test_warehouse_entity_wh_is_read_as_the_warehouse() -> None:
    """On reading, N1*WH is the warehouse as well as N1*SF."""
    body = ts846.from_erp(load_document("846", "warehouse_daily"))
    body[1] = Segment("N1", ("WH", "ACME HOUSEWARES DC", "92", "ACMEDC1"))
    advice = ts846.to_erp(build_transaction("846", 1, body))
    assert advice == load_document("846", "warehouse_daily")


# -- what cannot be mapped ---------------------------------------------------------------------


@pytest.mark.parametrize("release", ["005010", "003050", ""])
def test_other_releases_are_refused(release: str) -> None:
    """The 846 is mapped at 004010 only: another release is a MappingError naming GS08."""
    with pytest.raises(MappingError, match="GS08"):
        ts846.from_erp(load_document("846", "warehouse_daily"), release=release)


def test_render_refuses_the_846_at_005010() -> None:
    """render() keeps the 846 at 004010 (Amazon trades it there only)."""
    with pytest.raises(MappingError, match="004010 only"):
        render(load_document("846", "warehouse_daily"), sender=VENDOR, receiver=AMAZON,
               interchange_control_number=1, group_control_number=1, when=WHEN,
               release="005010")  # fmt: skip


def _edited(index: int, new: Segment | None) -> Transaction:
    body = ts846.from_erp(load_document("846", "warehouse_daily"))
    if new is None:
        del body[index]
    else:
        body[index] = new
    return build_transaction("846", 1, body)


@pytest.mark.parametrize(
    ("index", "new", "message"),
    [
        (0, None, "has no BIA"),
        (0, Segment("BIA", ("04", "DD", "X1", "20250310")), "BIA01 '04'"),
        (0, Segment("BIA", ("00", "DD", "X1", "20251301")), "BIA04 '20251301'"),
        (0, Segment("BIA", ("00", "D", "X1", "20250310")), r"\$\.report_type"),
        (1, None, "no N1\\*SF or N1\\*WH"),
        (1, Segment("N1", ("ST", "AMAZON", "92", "RIC2")), "no N1\\*SF or N1\\*WH"),
        (1, Segment("N1", ("SF", "ACME HOUSEWARES DC")), "N104"),
        (1, Segment("N1", ("SF", "ACME", "47", "ACMEDC1")), r"\$\.warehouse\.qualifier"),
        (2, Segment("LIN", ("", "ZZ", "850001234016")), "LIN 1: product id qualifier 'ZZ'"),
        (2, Segment("LIN", ("1",)), "LIN 1: LIN02/LIN03"),
        (3, Segment("CTP", ("", "NET", "12,49")), "LIN 1 CTP\\*NET CTP03 '12,49'"),
        (4, None, "LIN 1: no QTY\\*33"),
        (4, Segment("QTY", ("33", "many", "EA")), "LIN 1 QTY\\*33 QTY02 'many'"),
        (4, Segment("QTY", ("33", "150")), "LIN 1: QTY\\*33 QTY03"),
        (5, Segment("QTY", ("17", "172", "CA")), "QTY\\*17 QTY03 'CA' differs"),
        (5, Segment("QTY", ("17", "-3", "EA")), r"\$\.items\[0\]\.quantity_on_hand"),
        (7, Segment("QTY", ("33", "0", "E")), r"\$\.items\[1\]\.unit"),
    ],
)  # fmt: skip
def test_malformed_846_is_a_mapping_error(index: int, new: Segment | None, message: str) -> None:
    """Missing BIA or warehouse, unreadable numbers and dates, an item without QTY*33 or with
    two units, values the model refuses: MappingError naming the element or JSON path."""
    with pytest.raises(MappingError, match=message):
        ts846.to_erp(_edited(index, new))


def test_846_without_items_is_a_mapping_error() -> None:
    """An advice needs at least one LIN loop."""
    body = ts846.from_erp(load_document("846", "warehouse_daily"))[:2]
    with pytest.raises(MappingError, match=r"\$\.items"):
        ts846.to_erp(build_transaction("846", 1, body))
