"""Checks of an inbound purchase order (850). Amazon's document is not refused by these
rules (the 997 answers its syntax, amazon-x12.md section 7); they warn the operator about
what the 855, 856 and 810 will have to echo."""

from __future__ import annotations

from gateway.erp import Problem, PurchaseOrder
from gateway.rules.numbers import show


def purchase_order_problems(po: PurchaseOrder) -> list[Problem]:
    """Warnings about ``po`` by JSON path: a line id used twice (``duplicate_line``; the
    855/856/810 match lines by PO101, section 3) and a line ordering nothing
    (``quantity_not_positive``, PO102)."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, line in enumerate(po.lines):
        if line.line_id in seen:
            problems.append(Problem(
                f"$.lines[{i}].line_id",
                f"line id {line.line_id} repeats $.lines[{seen[line.line_id]}]; answers will"
                " be matched to the first",
                "duplicate_line",
                "warning",
            ))  # fmt: skip
        else:
            seen[line.line_id] = i
        if line.quantity <= 0:
            problems.append(Problem(
                f"$.lines[{i}].quantity",
                f"line {line.line_id} orders {show(line.quantity)} {line.unit}",
                "quantity_not_positive",
                "warning",
            ))  # fmt: skip
    return problems
