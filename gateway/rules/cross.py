"""Cross-document rules: what an 855, 856 or 810 must share with the purchase order (850)
it answers and with the 855 that acknowledged it (amazon-x12.md sections 4, 5, 6 and 9).

Every function compares one document with one other and returns problems located in the
first one by JSON path. Lines are matched by ``line_id`` (PO101, echoed as PO101 in the
855, LIN01 in the 856 and IT101 in the 810); where a purchase order repeats a line id, its
first line counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway.erp import (
    AcknowledgedLine,
    Invoice,
    PoAcknowledgment,
    Problem,
    ProductId,
    PurchaseOrder,
    PurchaseOrderLine,
    ShipNotice,
)
from gateway.rules.numbers import show
from gateway.rules.walk import items


def order_lines(po: PurchaseOrder) -> dict[str, PurchaseOrderLine]:
    """The lines of ``po`` by line id (the first line of a repeated id)."""
    lines: dict[str, PurchaseOrderLine] = {}
    for line in po.lines:
        lines.setdefault(line.line_id, line)
    return lines


def acknowledged_lines(ack: PoAcknowledgment) -> dict[str, AcknowledgedLine]:
    """The lines of ``ack`` by line id (the first line of a repeated id)."""
    lines: dict[str, AcknowledgedLine] = {}
    for line in ack.lines:
        lines.setdefault(line.line_id, line)
    return lines


def shippable_quantity(line: AcknowledgedLine) -> Decimal:
    """What the 855 lets the vendor ship and invoice for ``line``: the accepted and the
    backordered quantities in the line's unit (a backorder is a promise to ship later;
    a rejection is not)."""
    return sum(
        (s.quantity for s in line.statuses if s.status != "rejected" and s.unit == line.unit),
        Decimal(0),
    )


def echo_problems(
    product_ids: Sequence[ProductId], path: str, po_line: PurchaseOrderLine
) -> list[Problem]:
    """Whether ``product_ids`` (at JSON path ``path``) echo the identifiers the PO sent for
    ``po_line``: the vendor echoes exactly what Amazon sent (amazon-x12.md section 4, PO1
    row; section 5, HL I row; section 6, "item identifier = PO identifier").

    An identifier of a kind the PO line carries, with another value, is an error
    (``product_id_mismatch``); an identifier of a kind the PO line does not carry is a
    warning (``product_id_not_on_po``), unless no identifier at all is one the PO sent,
    which is an error (``product_id_mismatch`` at ``path``).
    """
    problems: list[Problem] = []
    echoed = False
    for j, product_id in enumerate(product_ids):
        if product_id in po_line.product_ids:
            echoed = True
            continue
        sent = [p.value for p in po_line.product_ids if p.kind == product_id.kind]
        if sent:
            problems.append(Problem(
                f"{path}[{j}].value",
                f"{product_id.kind} {product_id.value} is not the one the purchase order sent"
                f" for line {po_line.line_id} ({', '.join(sent)})",
                "product_id_mismatch",
            ))  # fmt: skip
        else:
            problems.append(Problem(
                f"{path}[{j}].kind",
                f"the purchase order sent no {product_id.kind} for line {po_line.line_id}",
                "product_id_not_on_po",
                "warning",
            ))  # fmt: skip
    if not echoed and all(p.severity == "warning" for p in problems):
        problems.append(Problem(
            path,
            f"none of these identifiers is one the purchase order sent for line"
            f" {po_line.line_id} ({_ids(po_line.product_ids)})",
            "product_id_mismatch",
        ))  # fmt: skip
    return problems


def _ids(product_ids: Sequence[ProductId]) -> str:
    return ", ".join(f"{p.kind} {p.value}" for p in product_ids)


def _unknown_line(path: str, line_id: str, po: PurchaseOrder) -> Problem:
    # Section 9: every 855/856/810 line echoes a PO1 line id (PO101).
    return Problem(path, f"line {line_id} is not on purchase order {po.po_number}", "unknown_line")


def _po_number_problem(path: str, number: str, other: str, what: str) -> Problem:
    # Section 9: all documents echo the 850 PO number (BEG03 -> BAK03, PRF01, BIG04).
    return Problem(path, f"PO number {number} is not the {what}'s {other}", "po_number_mismatch")


def acknowledgment_vs_order(ack: PoAcknowledgment, po: PurchaseOrder) -> list[Problem]:
    """Problems of the 855 ``ack`` against the 850 ``po`` it answers.

    The PO number (``po_number_mismatch``) and PO date (``po_date_mismatch``, warning)
    echo the PO's; every 855 line is a PO line (``unknown_line``) and every PO line is
    acknowledged (``missing_line``, amazon-x12.md section 4 rule 2); ``ordered_quantity``
    and ``unit`` are the PO line's (``ordered_quantity_mismatch``, ``unit_mismatch``, rule
    3); identifiers echo the PO's (:func:`echo_problems`); a backorder where the PO does
    not allow one is a warning (``backorder_not_allowed``, rule 3).
    """
    problems: list[Problem] = []
    if ack.po_number != po.po_number:
        problems.append(_po_number_problem("$.po_number", ack.po_number, po.po_number,
                                           "purchase order"))  # fmt: skip
    # BAK04 is the purchase order date (BEG05); a different date is a data slip, not a
    # different order, so a warning.
    if ack.po_date != po.po_date:
        problems.append(Problem(
            "$.po_date",
            f"PO date {ack.po_date} is not the purchase order's {po.po_date}",
            "po_date_mismatch",
            "warning",
        ))  # fmt: skip

    lines = order_lines(po)
    acknowledged = {line.line_id for line in ack.lines}
    for i, line in enumerate(ack.lines):
        here = f"$.lines[{i}]"
        po_line = lines.get(line.line_id)
        if po_line is None:
            problems.append(_unknown_line(f"{here}.line_id", line.line_id, po))
            continue
        # Rule 3 compares the acknowledged quantity with the ordered quantity (PO102/PO103).
        if line.ordered_quantity != po_line.quantity:
            problems.append(Problem(
                f"{here}.ordered_quantity",
                f"line {line.line_id}: ordered quantity {show(line.ordered_quantity)} is not"
                f" the purchase order's {show(po_line.quantity)}",
                "ordered_quantity_mismatch",
            ))  # fmt: skip
        if line.unit != po_line.unit:
            problems.append(Problem(
                f"{here}.unit",
                f"line {line.line_id}: unit {line.unit} is not the purchase order's"
                f" {po_line.unit}",
                "unit_mismatch",
            ))  # fmt: skip
        problems.extend(echo_problems(line.product_ids, f"{here}.product_ids", po_line))
        # Rule 3: backorders only if allowed (CSH01 N, read as back_order_allowed false; the
        # CSH mapping is inferred, section 3, hence a warning).
        if po.back_order_allowed is False:
            for j, status in enumerate(line.statuses):
                if status.status == "backordered":
                    problems.append(Problem(
                        f"{here}.statuses[{j}].status",
                        f"purchase order {po.po_number} does not allow backorders",
                        "backorder_not_allowed",
                        "warning",
                    ))  # fmt: skip

    # Rule 2: include every PO line; a missing line is implicitly rejected, and Amazon
    # wants the rejection stated.
    for line_id in lines:
        if line_id not in acknowledged:
            problems.append(Problem(
                "$.lines",
                f"purchase order line {line_id} is not acknowledged; every line needs a status",
                "missing_line",
            ))  # fmt: skip
    return problems


def _order_indexes(notice: ShipNotice, po_number: str) -> list[int]:
    return [o for o, order in enumerate(notice.orders) if order.po_number == po_number]


def _unmatched_orders(notice: ShipNotice, po_number: str, what: str) -> list[Problem]:
    return [
        _po_number_problem(f"$.orders[{o}].po_number", order.po_number, po_number, what)
        for o, order in enumerate(notice.orders)
    ]


def ship_notice_vs_order(notice: ShipNotice, po: PurchaseOrder) -> list[Problem]:
    """Problems of the 856 ``notice`` against the 850 ``po``, for the orders of the notice
    that carry ``po``'s number (a notice may hold several POs; the others are checked
    against their own). When no order carries it, each order's ``po_number`` is reported
    (``po_number_mismatch``).

    Per matching order: a PO date that differs is a warning (``po_date_mismatch``); every
    item's line is a PO line (``unknown_line``) and its identifiers echo the PO's
    (:func:`echo_problems`).
    """
    matched = _order_indexes(notice, po.po_number)
    if not matched:
        return _unmatched_orders(notice, po.po_number, "purchase order")
    problems: list[Problem] = []
    for o in matched:
        po_date = notice.orders[o].po_date
        if po_date is not None and po_date != po.po_date:
            problems.append(Problem(
                f"$.orders[{o}].po_date",
                f"PO date {po_date} is not the purchase order's {po.po_date}",
                "po_date_mismatch",
                "warning",
            ))  # fmt: skip
    lines = order_lines(po)
    for placed in items(notice):
        if placed.order_index not in matched:
            continue
        po_line = lines.get(placed.item.line_id)
        if po_line is None:
            problems.append(_unknown_line(f"{placed.path}.line_id", placed.item.line_id, po))
            continue
        problems.extend(
            echo_problems(placed.item.product_ids, f"{placed.path}.product_ids", po_line)
        )
    return problems


def ship_notice_vs_acknowledgment(notice: ShipNotice, ack: PoAcknowledgment) -> list[Problem]:
    """Problems of the 856 ``notice`` against the 855 ``ack``, for the orders carrying the
    855's PO number (none: ``po_number_mismatch`` on each order).

    Section 9: SN1 quantities <= accepted 855 quantities. Per line, the quantities shipped
    across all cartons add up to at most :func:`shippable_quantity`
    (``quantity_exceeds_accepted``, reported at the item that goes over); a line with
    nothing accepted or backordered is not shipped (``line_not_accepted``); an item in
    another unit than the 855 line cannot be compared (``unit_mismatch``, warning).
    """
    matched = _order_indexes(notice, ack.po_number)
    if not matched:
        return _unmatched_orders(notice, ack.po_number, "acknowledgment")
    counted = [
        _Counted(p.path, p.item.line_id, p.item.quantity, p.item.unit)
        for p in items(notice)
        if p.order_index in matched
    ]
    return _against_acknowledgment(counted, ack, "shipped")


def invoice_vs_order(invoice: Invoice, po: PurchaseOrder) -> list[Problem]:
    """Problems of the 810 ``invoice`` against the 850 ``po``: the PO number
    (``po_number_mismatch``) and date (``po_date_mismatch``, warning) echo the PO's, every
    line is a PO line (``unknown_line``), identifiers echo the PO's (:func:`echo_problems`).
    """
    problems: list[Problem] = []
    if invoice.po_number != po.po_number:
        return [_po_number_problem("$.po_number", invoice.po_number, po.po_number,
                                   "purchase order")]  # fmt: skip
    if invoice.po_date != po.po_date:
        problems.append(Problem(
            "$.po_date",
            f"PO date {invoice.po_date} is not the purchase order's {po.po_date}",
            "po_date_mismatch",
            "warning",
        ))  # fmt: skip
    lines = order_lines(po)
    for i, line in enumerate(invoice.lines):
        po_line = lines.get(line.line_id)
        if po_line is None:
            problems.append(_unknown_line(f"$.lines[{i}].line_id", line.line_id, po))
            continue
        problems.extend(echo_problems(line.product_ids, f"$.lines[{i}].product_ids", po_line))
    return problems


def invoice_vs_acknowledgment(invoice: Invoice, ack: PoAcknowledgment) -> list[Problem]:
    """Problems of the 810 ``invoice`` against the 855 ``ack`` of the same PO (another PO
    number: ``po_number_mismatch`` and nothing else is compared).

    Rule 5 of section 4: the invoiced unit price is the acknowledged unit cost
    (``unit_price_mismatch``; Amazon delays payment otherwise). Section 6: only confirmed
    items are invoiced (``line_not_accepted``), no more than accepted and backordered
    (``quantity_exceeds_accepted``); a line in another unit cannot be compared
    (``unit_mismatch``, warning).
    """
    if invoice.po_number != ack.po_number:
        return [_po_number_problem("$.po_number", invoice.po_number, ack.po_number,
                                   "acknowledgment")]  # fmt: skip
    problems: list[Problem] = []
    acked = acknowledged_lines(ack)
    for i, line in enumerate(invoice.lines):
        ack_line = acked.get(line.line_id)
        if ack_line is not None and line.unit_price != ack_line.unit_cost:
            problems.append(Problem(
                f"$.lines[{i}].unit_price",
                f"line {line.line_id}: unit price {show(line.unit_price)} is not the"
                f" acknowledged unit cost {show(ack_line.unit_cost)}",
                "unit_price_mismatch",
            ))  # fmt: skip
    counted = [
        _Counted(f"$.lines[{i}]", line.line_id, line.quantity, line.unit)
        for i, line in enumerate(invoice.lines)
    ]
    problems.extend(_against_acknowledgment(counted, ack, "invoiced"))
    return problems


@dataclass(frozen=True)
class _Counted:
    """A quantity of a line in an 856 item or an 810 line, with the JSON path of its object."""

    path: str
    line_id: str
    quantity: Decimal
    unit: str


def _against_acknowledgment(
    entries: Sequence[_Counted], ack: PoAcknowledgment, verb: str
) -> list[Problem]:
    """Quantities per line id, summed in document order, against the 855."""
    problems: list[Problem] = []
    acked = acknowledged_lines(ack)
    running: dict[str, Decimal] = {}
    reported: set[str] = set()
    for entry in entries:
        line_id = entry.line_id
        ack_line = acked.get(line_id)
        if ack_line is None or shippable_quantity(ack_line) == 0:
            if line_id not in reported:
                reported.add(line_id)
                why = "is not on the acknowledgment" if ack_line is None else "was rejected"
                problems.append(Problem(
                    f"{entry.path}.line_id",
                    f"line {line_id} {why}; only accepted or backordered items are {verb}",
                    "line_not_accepted",
                ))  # fmt: skip
            continue
        if entry.unit != ack_line.unit:
            problems.append(Problem(
                f"{entry.path}.unit",
                f"line {line_id} is {verb} in {entry.unit} but acknowledged in"
                f" {ack_line.unit}; the quantities cannot be compared",
                "unit_mismatch",
                "warning",
            ))  # fmt: skip
            continue
        limit = shippable_quantity(ack_line)
        total = running.get(line_id, Decimal(0)) + entry.quantity
        running[line_id] = total
        if total > limit and line_id not in reported:
            reported.add(line_id)
            problems.append(Problem(
                f"{entry.path}.quantity",
                f"line {line_id}: {show(total)} {entry.unit} {verb} so far, more than the"
                f" {show(limit)} accepted or backordered on the acknowledgment",
                "quantity_exceeds_accepted",
            ))  # fmt: skip
    return problems
