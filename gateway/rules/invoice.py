"""Amazon's rules for an invoice (810) on its own (amazon-x12.md section 6).

The rules that need the purchase order or the acknowledgment (line ids, identifiers, price
equal to the acknowledged cost) are in :mod:`gateway.rules.cross`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from gateway.erp import Invoice, Problem
from gateway.rules.numbers import money, show, to_cents


def expected_total(invoice: Invoice) -> Decimal:
    """The invoice total Amazon computes: sum(quantity * unit price) over the lines, plus
    charges, less allowances, plus taxes, computed exactly and rounded half up to the cent
    once, at the end (amazon-x12.md section 6: ``TDS01 = round(sum(IT102*IT104) + charges
    - allowances, 2)``; taxes per the Invoice model). Rounding per line would let the
    total drift a cent from what Amazon recomputes."""
    items = sum((line.quantity * line.unit_price for line in invoice.lines), Decimal(0))
    charges = sum((c.amount for c in invoice.charges if c.kind == "charge"), Decimal(0))
    allowances = sum((c.amount for c in invoice.charges if c.kind == "allowance"), Decimal(0))
    taxes = sum((t.amount for t in invoice.taxes), Decimal(0))
    return to_cents(items + charges - allowances + taxes)


def invoice_problems(invoice: Invoice, *, today: date | None = None) -> list[Problem]:
    """Problems of ``invoice`` by JSON path; ``today`` is the date it is sent (default: the
    local date now). Never raises for a bad document.

    The total is not zero (``total_zero``) and equals :func:`expected_total` exactly, so a
    total with more than two decimals never passes (``total_mismatch``, the message gives
    the expected value); every line quantity is above zero (``quantity_not_positive``);
    the invoice date is not after ``today`` (``invoice_date_future``).
    """
    today = today or date.today()
    problems: list[Problem] = []

    # Section 6, invoice rules: "never total = 0".
    if invoice.total == 0:
        problems.append(Problem(
            "$.total", "an invoice total of 0 is refused by Amazon", "total_zero",
        ))  # fmt: skip
    # Section 6: total = items + charges - allowances (+ tax), to the cent; TDS01 is N2.
    expected = expected_total(invoice)
    if invoice.total != expected:
        problems.append(Problem(
            "$.total",
            f"total {show(invoice.total)} differs from items + charges - allowances + taxes"
            f" = {money(expected)}",
            "total_mismatch",
        ))  # fmt: skip

    # Section 6: invoice only items confirmed and shipped; a line of 0 units invoices
    # nothing (IT102), and Amazon sums the item quantities (CTT).
    for i, line in enumerate(invoice.lines):
        if line.quantity <= 0:
            problems.append(Problem(
                f"$.lines[{i}].quantity",
                f"the invoiced quantity of line {line.line_id} must be above 0",
                "quantity_not_positive",
            ))  # fmt: skip

    # Section 6, BIG row: BIG01 invoice date <= now.
    if invoice.invoice_date > today:
        problems.append(Problem(
            "$.invoice_date",
            f"invoice date {invoice.invoice_date} is after today ({today})",
            "invoice_date_future",
        ))  # fmt: skip
    return problems
