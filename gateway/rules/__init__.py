"""Amazon's business rules on the ERP documents, as pure checks returning problems.

Each rule returns :class:`~gateway.erp.Problem` records located by JSON path into the
document (``$.lines[2].statuses[0].quantity``), with a snake_case ``code`` naming the rule
and a ``severity``: ``error`` (the document must not be sent) or ``warning``. A bad
document never raises. The rules come from amazon-x12.md (sections 4, 5, 6 and 9); each
module cites the rule it applies:

- :mod:`~gateway.rules.check_digits` GTIN, ISBN and SSCC check digits
- :mod:`~gateway.rules.acknowledgment` the 855 on its own
- :mod:`~gateway.rules.ship_notice` the 856 on its own
- :mod:`~gateway.rules.invoice` the 810 on its own
- :mod:`~gateway.rules.purchase_order` warnings on an inbound 850
- :mod:`~gateway.rules.cross` 855/856/810 against the 850 and the 855

:func:`check` runs every rule that applies to a document.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from gateway.erp import DOCUMENT_TYPES, PoAcknowledgment, Problem, PurchaseOrder
from gateway.rules.acknowledgment import acknowledgment_problems
from gateway.rules.check_digits import (
    gs1_check_digit,
    gtin_valid,
    isbn_valid,
    product_id_problems,
    sscc_valid,
)
from gateway.rules.cross import (
    acknowledgment_vs_order,
    invoice_vs_acknowledgment,
    invoice_vs_order,
    order_lines,
    ship_notice_vs_acknowledgment,
    ship_notice_vs_order,
)
from gateway.rules.invoice import expected_total, invoice_problems
from gateway.rules.purchase_order import purchase_order_problems
from gateway.rules.ship_notice import ship_notice_problems
from gateway.rules.walk import product_id_lists

__all__ = [
    "acknowledgment_problems",
    "acknowledgment_vs_order",
    "check",
    "expected_total",
    "gs1_check_digit",
    "gtin_valid",
    "invoice_problems",
    "invoice_vs_acknowledgment",
    "invoice_vs_order",
    "isbn_valid",
    "product_id_problems",
    "purchase_order_problems",
    "ship_notice_problems",
    "ship_notice_vs_acknowledgment",
    "ship_notice_vs_order",
    "sscc_valid",
]


def check(
    document: Any,
    *,
    purchase_order: PurchaseOrder | None = None,
    acknowledgment: PoAcknowledgment | None = None,
    today: date | None = None,
) -> list[Problem]:
    """Every business-rule problem of an ERP ``document``, in a stable order.

    Runs the document's own rules (``today`` dates the ship-date window and the invoice
    date; default the local date now), the check digits of every product identifier (and,
    for a ship notice, of every SSCC), and, when given, the cross-document rules against
    ``purchase_order`` (for an 855, 856 or 810) and ``acknowledgment`` (for an 856 or 810).
    A product identifier that the purchase order sent for the same line has its
    check-digit problems downgraded to warnings: the vendor must echo it as sent. On an
    inbound purchase order every finding is a warning.

    A problem found twice (same path and code) is reported once. Raises ``TypeError`` only
    when ``document`` is not an ERP document model (a programming error, not a bad
    document).
    """
    kind = getattr(document, "type", None)
    if kind not in DOCUMENT_TYPES or not isinstance(document, DOCUMENT_TYPES[kind]):
        raise TypeError(f"not an ERP document: {type(document).__name__}")

    problems: list[Problem] = []
    if kind == "purchase_order":
        problems += purchase_order_problems(document)
    elif kind == "po_acknowledgment":
        problems += acknowledgment_problems(document)
    elif kind == "ship_notice":
        problems += ship_notice_problems(document, today=today)
    elif kind == "invoice":
        problems += invoice_problems(document, today=today)

    problems += _check_digit_problems(document, purchase_order)

    if kind == "po_acknowledgment" and purchase_order is not None:
        problems += acknowledgment_vs_order(document, purchase_order)
    elif kind == "ship_notice":
        if purchase_order is not None:
            problems += ship_notice_vs_order(document, purchase_order)
        if acknowledgment is not None:
            problems += ship_notice_vs_acknowledgment(document, acknowledgment)
    elif kind == "invoice":
        if purchase_order is not None:
            problems += invoice_vs_order(document, purchase_order)
        if acknowledgment is not None:
            problems += invoice_vs_acknowledgment(document, acknowledgment)

    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.path, problem.code), problem)
    return list(unique.values())


def _check_digit_problems(document: Any, po: PurchaseOrder | None) -> list[Problem]:
    """Check digits of every product identifier list in ``document``; identifiers that
    ``po`` sent for the same line (and, for an 856, the same PO) are ``known``."""
    lines = order_lines(po) if po is not None else {}
    problems: list[Problem] = []
    for placed in product_id_lists(document):
        if document.type == "purchase_order":
            # Amazon's own identifiers: the 997 answers the syntax, these are warnings.
            known = placed.product_ids
        else:
            if placed.order_index is not None:
                po_number = document.orders[placed.order_index].po_number
            else:
                po_number = getattr(document, "po_number", None)
            po_line = lines.get(placed.line_id) if placed.line_id is not None else None
            same_po = po is not None and po_number == po.po_number
            known = po_line.product_ids if po_line is not None and same_po else []
        problems += product_id_problems(placed.product_ids, placed.path, known=known)
    return problems
