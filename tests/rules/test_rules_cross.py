"""Cross-document rules (amazon-x12.md sections 4, 5, 6 and 9): 855, 856 and 810 against
the purchase order, and 856 and 810 against the acknowledgment."""

from __future__ import annotations

from gateway.rules.cross import (
    acknowledgment_vs_order,
    echo_problems,
    invoice_vs_acknowledgment,
    invoice_vs_order,
    ship_notice_vs_acknowledgment,
    ship_notice_vs_order,
)
from tests.rules.rules_builders import (
    acknowledgment,
    acknowledgment_data,
    changed,
    found,
    invoice,
    invoice_data,
    item,
    purchase_order,
    purchase_order_data,
    ship_notice,
    ship_notice_data,
    sscc,
)


def test_matching_documents_have_no_problem() -> None:
    """The builders' documents agree with the PO and with each other."""
    po, ack = purchase_order(), acknowledgment()
    assert acknowledgment_vs_order(ack, po) == []
    assert ship_notice_vs_order(ship_notice(), po) == []
    assert ship_notice_vs_acknowledgment(ship_notice(), ack) == []
    assert invoice_vs_order(invoice(), po) == []
    assert invoice_vs_acknowledgment(invoice(), ack) == []


# 855 against the PO


def test_acknowledgment_po_number_must_match() -> None:
    """Section 9: BAK03 echoes BEG03."""
    ack = acknowledgment(changed(acknowledgment_data(), "po_number", "7QX3KD9N"))
    problems = acknowledgment_vs_order(ack, purchase_order())
    assert found(problems) == [("$.po_number", "po_number_mismatch", "error")]
    assert problems[0].message == "PO number 7QX3KD9N is not the purchase order's 7QX3KD9M"


def test_acknowledgment_po_date_mismatch_is_a_warning() -> None:
    """BAK04 is the PO date; a slip there is a warning."""
    ack = acknowledgment(changed(acknowledgment_data(), "po_date", "2025-03-11"))
    assert found(acknowledgment_vs_order(ack, purchase_order())) == [
        ("$.po_date", "po_date_mismatch", "warning")
    ]


def test_acknowledged_line_not_on_the_po_is_an_error() -> None:
    """Section 9: every line id is a PO101 (and the real line 3 is then missing)."""
    ack = acknowledgment(changed(acknowledgment_data(), "lines[2].line_id", "4"))
    assert found(acknowledgment_vs_order(ack, purchase_order())) == [
        ("$.lines[2].line_id", "unknown_line", "error"),
        ("$.lines", "missing_line", "error"),
    ]


def test_every_po_line_must_be_acknowledged() -> None:
    """Rule 2: include every PO line."""
    data = acknowledgment_data()
    del data["lines"][1]
    problems = acknowledgment_vs_order(acknowledgment(data), purchase_order())
    assert found(problems) == [("$.lines", "missing_line", "error")]
    assert "line 2 is not acknowledged" in problems[0].message


def test_ordered_quantity_must_be_the_po_quantity() -> None:
    """Rule 3 counts against PO102."""
    ack = acknowledgment(changed(acknowledgment_data(), "lines[0].ordered_quantity", "20"))
    assert found(acknowledgment_vs_order(ack, purchase_order())) == [
        ("$.lines[0].ordered_quantity", "ordered_quantity_mismatch", "error")
    ]


def test_acknowledged_unit_must_be_the_po_unit() -> None:
    """PO103 is echoed (statuses in the same unit, so only the line is reported)."""
    data = changed(acknowledgment_data(), "lines[0].unit", "CA")
    data = changed(data, "lines[0].statuses[0].unit", "CA")
    assert found(acknowledgment_vs_order(acknowledgment(data), purchase_order())) == [
        ("$.lines[0].unit", "unit_mismatch", "error")
    ]


def test_acknowledged_identifier_with_another_value_is_an_error() -> None:
    """Section 4: echo exactly the identifier Amazon sent; the message names it."""
    data = changed(acknowledgment_data(), "lines[0].product_ids[0].value", "036000291469")
    problems = acknowledgment_vs_order(acknowledgment(data), purchase_order())
    assert found(problems) == [("$.lines[0].product_ids[0].value", "product_id_mismatch", "error")]
    assert "(036000291452)" in problems[0].message


def test_an_extra_identifier_kind_is_a_warning_when_one_is_echoed() -> None:
    """Line 2 echoes its EAN and adds a vendor item number the PO did not send."""
    data = acknowledgment_data()
    data["lines"][1]["product_ids"] = [
        {"kind": "ean", "value": "4006381333931"},
        {"kind": "vendor_item", "value": "ACORN-7"},
    ]
    assert found(acknowledgment_vs_order(acknowledgment(data), purchase_order())) == [
        ("$.lines[1].product_ids[1].kind", "product_id_not_on_po", "warning")
    ]


def test_no_identifier_echoed_is_an_error() -> None:
    """Only a kind the PO did not send: the warning and an error on the list."""
    data = changed(acknowledgment_data(), "lines[0].product_ids",
                   [{"kind": "vendor_item", "value": "ACORN-7"}])  # fmt: skip
    assert found(acknowledgment_vs_order(acknowledgment(data), purchase_order())) == [
        ("$.lines[0].product_ids[0].kind", "product_id_not_on_po", "warning"),
        ("$.lines[0].product_ids", "product_id_mismatch", "error"),
    ]


def test_echoing_a_subset_of_the_po_identifiers_is_fine() -> None:
    """Line 2 of the PO carries an EAN and an ASIN; echoing the ASIN alone is enough."""
    po_line = purchase_order().lines[1]
    ids = [po_line.product_ids[1]]
    assert echo_problems(ids, "$.x", po_line) == []


def test_backorder_on_a_po_that_forbids_it_is_a_warning() -> None:
    """Rule 3: backorders only if allowed (CSH01 N, mapping inferred)."""
    po = purchase_order(changed(purchase_order_data(), "back_order_allowed", False))
    data = changed(acknowledgment_data(), "lines[2].statuses",
                   [{"status": "backordered", "quantity": "6", "unit": "EA",
                     "scheduled_date": "2025-04-01"}])  # fmt: skip
    assert found(acknowledgment_vs_order(acknowledgment(data), po)) == [
        ("$.lines[2].statuses[0].status", "backorder_not_allowed", "warning")
    ]
    assert acknowledgment_vs_order(acknowledgment(data), purchase_order()) == []


# 856 against the PO and the 855


def test_ship_notice_order_po_number_must_match() -> None:
    """Section 9: PRF01 echoes BEG03; with no order of the PO, each order is reported."""
    notice = ship_notice(changed(ship_notice_data(), "orders[0].po_number", "7QX3KD9N"))
    assert found(ship_notice_vs_order(notice, purchase_order())) == [
        ("$.orders[0].po_number", "po_number_mismatch", "error")
    ]
    assert found(ship_notice_vs_acknowledgment(notice, acknowledgment())) == [
        ("$.orders[0].po_number", "po_number_mismatch", "error")
    ]


def test_other_orders_of_a_multi_po_notice_are_left_alone() -> None:
    """An order for another PO is not compared with this PO or its 855."""
    data = ship_notice_data()
    data["orders"].append({"po_number": "OTHERPO1",
                           "cartons": [{"sscc": sscc(9), "items": [item(0, "999")]}]})  # fmt: skip
    data["carton_count"] = 4
    notice = ship_notice(data)
    assert ship_notice_vs_order(notice, purchase_order()) == []
    assert ship_notice_vs_acknowledgment(notice, acknowledgment()) == []


def test_ship_notice_po_date_mismatch_is_a_warning() -> None:
    """PRF04 echoes the PO date."""
    notice = ship_notice(changed(ship_notice_data(), "orders[0].po_date", "2025-03-09"))
    assert found(ship_notice_vs_order(notice, purchase_order())) == [
        ("$.orders[0].po_date", "po_date_mismatch", "warning")
    ]


def test_shipped_line_not_on_the_po_is_an_error() -> None:
    """LIN01 echoes a PO101."""
    path = "orders[0].pallets[0].cartons[1].items[0].line_id"
    notice = ship_notice(changed(ship_notice_data(), path, "9"))
    assert found(ship_notice_vs_order(notice, purchase_order())) == [
        ("$." + path, "unknown_line", "error")
    ]


def test_shipped_identifier_must_echo_the_po() -> None:
    """Section 5, HL I: LIN identifiers match the PO."""
    path = "orders[0].cartons[0].items[0].product_ids[0].value"
    notice = ship_notice(changed(ship_notice_data(), path, "9780306406164"))
    assert found(ship_notice_vs_order(notice, purchase_order())) == [
        ("$." + path, "product_id_mismatch", "error")
    ]


def test_shipping_more_than_accepted_is_an_error_at_the_item_that_goes_over() -> None:
    """Section 9: 24 of line 1 accepted; a second carton with 1 more goes over."""
    data = ship_notice_data()
    data["orders"][0]["cartons"].append({"sscc": sscc(5), "items": [item(0, "1")]})
    data["carton_count"] = 4
    problems = ship_notice_vs_acknowledgment(ship_notice(data), acknowledgment())
    assert found(problems) == [
        ("$.orders[0].cartons[1].items[0].quantity", "quantity_exceeds_accepted", "error")
    ]
    assert "25 EA shipped so far, more than the 24" in problems[0].message


def test_backordered_quantities_may_ship() -> None:
    """A backorder is a promise to ship: 10 accepted + 14 backordered cover 24 shipped."""
    ack = acknowledgment(changed(acknowledgment_data(), "lines[0].statuses", [
        {"status": "accepted", "quantity": "10", "unit": "EA"},
        {"status": "backordered", "quantity": "14", "unit": "EA", "scheduled_date": "2025-04-01"},
    ]))  # fmt: skip
    assert ship_notice_vs_acknowledgment(ship_notice(), ack) == []


def test_shipping_a_rejected_line_is_an_error() -> None:
    """Only accepted or backordered items ship."""
    rejected = [{"status": "rejected", "quantity": "10", "unit": "EA"}]
    ack = acknowledgment(changed(acknowledgment_data(), "lines[1].statuses", rejected))
    problems = ship_notice_vs_acknowledgment(ship_notice(), ack)
    assert found(problems) == [
        ("$.orders[0].pallets[0].cartons[1].items[0].line_id", "line_not_accepted", "error")
    ]
    assert "was rejected" in problems[0].message


def test_shipping_in_another_unit_is_a_warning() -> None:
    """CA shipped against EA acknowledged cannot be compared (pack sizes are unknown)."""
    path = "orders[0].cartons[0].items[0].unit"
    notice = ship_notice(changed(ship_notice_data(), path, "CA"))
    assert found(ship_notice_vs_acknowledgment(notice, acknowledgment())) == [
        ("$." + path, "unit_mismatch", "warning")
    ]


# 810 against the PO and the 855


def test_invoice_po_number_must_match() -> None:
    """Section 9: BIG04 echoes BEG03; nothing else is compared with another PO."""
    inv = invoice(changed(invoice_data(), "po_number", "OTHERPO1"))
    assert found(invoice_vs_order(inv, purchase_order())) == [
        ("$.po_number", "po_number_mismatch", "error")
    ]
    assert found(invoice_vs_acknowledgment(inv, acknowledgment())) == [
        ("$.po_number", "po_number_mismatch", "error")
    ]


def test_invoice_po_date_mismatch_is_a_warning() -> None:
    """BIG03 is the PO date."""
    inv = invoice(changed(invoice_data(), "po_date", "2025-03-01"))
    assert found(invoice_vs_order(inv, purchase_order())) == [
        ("$.po_date", "po_date_mismatch", "warning")
    ]


def test_invoiced_line_not_on_the_po_is_an_error() -> None:
    """IT101 echoes a PO101; against the 855 the line is not acknowledged either."""
    inv = invoice(changed(invoice_data(), "lines[1].line_id", "7"))
    assert found(invoice_vs_order(inv, purchase_order())) == [
        ("$.lines[1].line_id", "unknown_line", "error")
    ]
    assert found(invoice_vs_acknowledgment(inv, acknowledgment())) == [
        ("$.lines[1].line_id", "line_not_accepted", "error")
    ]


def test_invoiced_identifier_must_echo_the_po() -> None:
    """Section 6: item identifier = PO identifier."""
    inv = invoice(changed(invoice_data(), "lines[2].product_ids[0]",
                          {"kind": "isbn", "value": "0306406152"}))  # fmt: skip
    assert found(invoice_vs_order(inv, purchase_order())) == [
        ("$.lines[2].product_ids[0].value", "product_id_mismatch", "error")
    ]


def test_invoice_price_must_be_the_acknowledged_cost() -> None:
    """Section 4 rule 5: the invoiced price equals the 855 cost; 12.490 is 12.49."""
    ok = invoice(changed(invoice_data(), "lines[0].unit_price", "12.490"))
    assert invoice_vs_acknowledgment(ok, acknowledgment()) == []
    inv = invoice(changed(invoice_data(), "lines[0].unit_price", "12.50"))
    problems = invoice_vs_acknowledgment(inv, acknowledgment())
    assert found(problems) == [("$.lines[0].unit_price", "unit_price_mismatch", "error")]
    assert "12.5 is not the acknowledged unit cost 12.49" in problems[0].message


def test_invoicing_more_than_accepted_is_an_error() -> None:
    """Only confirmed quantities are invoiced."""
    inv = invoice(changed(invoice_data(), "lines[2].quantity", "7"))
    assert found(invoice_vs_acknowledgment(inv, acknowledgment())) == [
        ("$.lines[2].quantity", "quantity_exceeds_accepted", "error")
    ]


def test_invoicing_a_rejected_line_is_an_error() -> None:
    """Section 6: invoice only confirmed items."""
    rejected = [{"status": "rejected", "quantity": "24", "unit": "EA"}]
    ack = acknowledgment(changed(acknowledgment_data(), "lines[0].statuses", rejected))
    assert found(invoice_vs_acknowledgment(invoice(), ack)) == [
        ("$.lines[0].line_id", "line_not_accepted", "error")
    ]
