"""``gateway.rules.check``: dispatch on the document type, check digits everywhere, the
cross-document rules when the PO and 855 are given, one report per problem."""

from __future__ import annotations

import pytest

from gateway.erp import FunctionalAck, InventoryAdvice
from gateway.rules import check
from tests.rules.rules_builders import (
    TODAY,
    acknowledgment,
    acknowledgment_data,
    changed,
    found,
    invoice,
    invoice_data,
    purchase_order,
    purchase_order_data,
    ship_notice,
    ship_notice_data,
)

BAD_UPC = "036000291453"  # 036000291452 with a wrong check digit


def test_agreeing_documents_pass_every_rule() -> None:
    """PO, 855, 856 and 810 of the builders: no problem with all context given."""
    po, ack = purchase_order(), acknowledgment()
    assert check(po) == []
    assert check(ack, purchase_order=po, today=TODAY) == []
    assert check(ship_notice(), purchase_order=po, acknowledgment=ack, today=TODAY) == []
    assert check(invoice(), purchase_order=po, acknowledgment=ack, today=TODAY) == []


def test_purchase_order_findings_are_warnings() -> None:
    """Amazon's 850 is not refused by business rules: a bad check digit and a repeated line
    id are warnings."""
    data = changed(purchase_order_data(), "lines[0].product_ids[0].value", BAD_UPC)
    data = changed(data, "lines[2].line_id", "1")
    assert found(check(purchase_order(data))) == [
        ("$.lines[2].line_id", "duplicate_line", "warning"),
        ("$.lines[0].product_ids[0].value", "check_digit", "warning"),
    ]


def test_a_bad_check_digit_in_an_acknowledgment_is_an_error() -> None:
    """Without the PO, or when the PO sent another value, a bad UPC is an error (with the
    PO, the identifier also fails to echo)."""
    ack = acknowledgment(changed(acknowledgment_data(), "lines[0].product_ids[0].value", BAD_UPC))
    assert found(check(ack)) == [("$.lines[0].product_ids[0].value", "check_digit", "error")]
    assert found(check(ack, purchase_order=purchase_order())) == [
        ("$.lines[0].product_ids[0].value", "check_digit", "error"),
        ("$.lines[0].product_ids[0].value", "product_id_mismatch", "error"),
    ]


def test_a_bad_check_digit_echoed_from_the_po_is_a_warning() -> None:
    """The vendor echoes what Amazon sent: a bad UPC from the PO is only a warning."""
    po = purchase_order(changed(purchase_order_data(), "lines[0].product_ids[0].value", BAD_UPC))
    ack = acknowledgment(changed(acknowledgment_data(), "lines[0].product_ids[0].value", BAD_UPC))
    assert found(check(ack, purchase_order=po)) == [
        ("$.lines[0].product_ids[0].value", "check_digit", "warning")
    ]
    path = "lines[0].product_ids[0].value"
    inv = invoice(changed(invoice_data(), path, BAD_UPC))
    assert found(check(inv, purchase_order=po, today=TODAY)) == [
        ("$." + path, "check_digit", "warning")
    ]
    path = "orders[0].pallets[0].cartons[0].items[0].product_ids[0].value"
    notice = ship_notice(changed(ship_notice_data(), path, BAD_UPC))
    assert found(check(notice, purchase_order=po, today=TODAY)) == [
        ("$." + path, "check_digit", "warning")
    ]


def test_an_identifier_of_another_po_is_not_excused() -> None:
    """The PO's identifiers excuse nothing in a document for another PO number."""
    po = purchase_order(changed(purchase_order_data(), "lines[0].product_ids[0].value", BAD_UPC))
    data = changed(acknowledgment_data(), "lines[0].product_ids[0].value", BAD_UPC)
    ack = acknowledgment(changed(data, "po_number", "OTHERPO1"))
    assert found(check(ack, purchase_order=po)) == [
        ("$.lines[0].product_ids[0].value", "check_digit", "error"),
        ("$.po_number", "po_number_mismatch", "error"),
    ]


def test_ship_notice_runs_own_rules_check_digits_and_both_cross_checks() -> None:
    """Ship date (own), an SSCC typo (own), a bad EAN (check digit and echo), and too much
    shipped (against the 855), all from one call."""
    data = changed(ship_notice_data(), "ship_date", "2025-03-01")
    data = changed(data, "estimated_delivery", "2025-03-03")
    data = changed(data, "orders[0].cartons[0].sscc", "106141411234567890")
    data = changed(data, "orders[0].pallets[0].cartons[1].items[0].product_ids[0].value",
                   "4006381333932")  # fmt: skip
    data = changed(data, "orders[0].pallets[0].cartons[0].items[0].quantity", "25")
    problems = check(
        ship_notice(data), purchase_order=purchase_order(), acknowledgment=acknowledgment(),
        today=TODAY,
    )  # fmt: skip
    item = "$.orders[0].pallets[0].cartons"
    assert found(problems) == [
        ("$.ship_date", "ship_date_window", "error"),
        ("$.orders[0].cartons[0].sscc", "check_digit", "error"),
        (f"{item}[1].items[0].product_ids[0].value", "check_digit", "error"),
        (f"{item}[1].items[0].product_ids[0].value", "product_id_mismatch", "error"),
        (f"{item}[0].items[0].quantity", "quantity_exceeds_accepted", "error"),
    ]


def test_a_problem_found_by_two_rules_is_reported_once() -> None:
    """A wrong PO number found against both the PO and the 855: one problem."""
    notice = ship_notice(changed(ship_notice_data(), "orders[0].po_number", "OTHERPO1"))
    problems = check(
        notice, purchase_order=purchase_order(), acknowledgment=acknowledgment(), today=TODAY
    )
    assert found(problems) == [("$.orders[0].po_number", "po_number_mismatch", "error")]
    assert problems[0].message.endswith("purchase order's 7QX3KD9M")


def test_invoice_runs_own_rules_and_both_cross_checks() -> None:
    """Total off by a cent, price not the 855 cost, PO date slip."""
    data = changed(invoice_data(), "total", "472.21")
    data = changed(data, "po_date", "2025-03-09")
    data = changed(data, "lines[1].unit_price", "5.26")
    problems = check(
        invoice(data), purchase_order=purchase_order(), acknowledgment=acknowledgment(),
        today=TODAY,
    )  # fmt: skip
    assert found(problems) == [
        ("$.total", "total_mismatch", "error"),
        ("$.po_date", "po_date_mismatch", "warning"),
        ("$.lines[1].unit_price", "unit_price_mismatch", "error"),
    ]
    assert problems[0].message.endswith("= 472.30")


def test_acknowledgment_is_not_compared_with_another_acknowledgment() -> None:
    """``acknowledgment=`` is context for 856 and 810 only."""
    other = acknowledgment(changed(acknowledgment_data(), "po_number", "OTHERPO1"))
    assert check(acknowledgment(), acknowledgment=other) == []


def test_inventory_advice_identifiers_are_checked() -> None:
    """The 846 is the vendor's own: a bad GTIN is an error."""
    advice = InventoryAdvice.model_validate({
        "type": "inventory_advice", "advice_number": "INV1", "advice_date": "2025-03-12",
        "warehouse": {"code": "ACORN1"},
        "items": [
            {"product_ids": [{"kind": "upc", "value": "036000291452"}],
             "quantity_available": "5", "unit": "EA"},
            {"product_ids": [{"kind": "gtin14", "value": "10012345678903"}],
             "quantity_available": "5", "unit": "EA"},
        ],
    })  # fmt: skip
    assert found(check(advice)) == [("$.items[1].product_ids[0].value", "check_digit", "error")]


def test_functional_ack_has_no_business_rules() -> None:
    """A 997 carries no Amazon business rule."""
    ack = FunctionalAck.model_validate({
        "type": "functional_ack", "functional_id": "PO", "group_control_number": "1",
        "status": "accepted", "sets_included": 1, "sets_received": 1, "sets_accepted": 1,
    })  # fmt: skip
    assert check(ack) == []


@pytest.mark.parametrize("thing", [None, {"type": "invoice"}, object()])
def test_something_that_is_not_a_document_is_a_type_error(thing: object) -> None:
    """A programming error, not a bad document: TypeError."""
    with pytest.raises(TypeError, match="not an ERP document"):
        check(thing)
