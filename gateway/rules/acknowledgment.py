"""Amazon's rules for a PO acknowledgment (855) on its own (amazon-x12.md section 4).

The rules that need the purchase order (every line acknowledged, ordered quantity, echoed
identifiers) are in :mod:`gateway.rules.cross`.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.erp import PoAcknowledgment, Problem
from gateway.rules.numbers import show


def acknowledgment_problems(ack: PoAcknowledgment) -> list[Problem]:
    """Problems of ``ack`` by JSON path. Never raises for a bad document.

    Per line: each line id once (``duplicate_line``); the unit cost above zero
    (``unit_cost_not_positive``); each status in the line's unit (``unit_mismatch``), with a
    quantity above zero (``quantity_not_positive``), a backorder with its scheduled date
    (``backorder_without_date``, warning) and a rejection reason only on a rejection
    (``rejection_reason_not_allowed``); the statuses adding up to no more than the ordered
    quantity (``quantity_exceeds_ordered``), and a warning when they add up to less
    (``quantity_unacknowledged``).
    """
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, line in enumerate(ack.lines):
        here = f"$.lines[{i}]"
        # Section 4, PO1 row: one PO1 loop per 850 line; a second loop for the same PO101
        # would acknowledge the line twice.
        if line.line_id in seen:
            problems.append(Problem(
                f"{here}.line_id",
                f"line {line.line_id} is acknowledged twice (first at"
                f" $.lines[{seen[line.line_id]}])",
                "duplicate_line",
            ))  # fmt: skip
        else:
            seen[line.line_id] = i

        # Rule 5: the unit cost is returned for every line, backordered ones too, and is the
        # price Amazon will pay. A line rejected in full ships nothing, so a zero cost there
        # is only a warning.
        if line.unit_cost <= 0:
            ships = any(s.status != "rejected" for s in line.statuses)
            problems.append(Problem(
                f"{here}.unit_cost",
                f"the unit cost of line {line.line_id} must be above 0 (Amazon pays the"
                " acknowledged cost)",
                "unit_cost_not_positive",
                "error" if ships else "warning",
            ))  # fmt: skip

        stated = Decimal(0)
        for j, status in enumerate(line.statuses):
            at = f"{here}.statuses[{j}]"
            # ACK02/ACK03 are counted against PO102/PO103 (rule 3): one unit per line.
            if status.unit != line.unit:
                problems.append(Problem(
                    f"{at}.unit",
                    f"status unit {status.unit} differs from the line's unit {line.unit}",
                    "unit_mismatch",
                ))  # fmt: skip
            else:
                stated += status.quantity
            if status.quantity <= 0:
                if status.status == "rejected":
                    # Rule 4: the rejected quantity must be stated; Amazon treats the stated
                    # quantity as not delivered, so an IR with ACK02 = 0 rejects nothing.
                    message = "a rejection must state the quantity rejected, not 0"
                else:
                    # Rule 3: each ACK loop carries the quantity it acknowledges.
                    message = f"an {status.status} status must state a quantity above 0"
                problems.append(Problem(f"{at}.quantity", message, "quantity_not_positive"))
            # Rule 3: a partial acknowledgment is one accepted loop (qty + date) and one
            # backordered loop (qty + date); Amazon plans on the backorder date.
            if status.status == "backordered" and status.scheduled_date is None:
                problems.append(Problem(
                    f"{at}.scheduled_date",
                    "a backordered quantity should carry the date it will ship",
                    "backorder_without_date",
                    "warning",
                ))  # fmt: skip
            # Amazon's rejection reasons (section 4) explain a rejection and nothing else.
            if status.rejection_reason is not None and status.status != "rejected":
                problems.append(Problem(
                    f"{at}.rejection_reason",
                    f"a rejection reason is only allowed on a rejected status, not {status.status}",
                    "rejection_reason_not_allowed",
                ))  # fmt: skip

        # Rule 3: the acknowledged quantity may not exceed the ordered quantity.
        if stated > line.ordered_quantity:
            problems.append(Problem(
                f"{here}.statuses",
                f"line {line.line_id} acknowledges {show(stated)} {line.unit} but"
                f" {show(line.ordered_quantity)} were ordered",
                "quantity_exceeds_ordered",
            ))  # fmt: skip
        # Rules 2 and 4: what is not acknowledged is implicitly rejected; state it instead.
        elif stated < line.ordered_quantity and all(s.unit == line.unit for s in line.statuses):
            problems.append(Problem(
                f"{here}.statuses",
                f"line {line.line_id} acknowledges {show(stated)} of {show(line.ordered_quantity)}"
                f" {line.unit} ordered; Amazon takes the other"
                f" {show(line.ordered_quantity - stated)} as rejected, state them as rejected",
                "quantity_unacknowledged",
                "warning",
            ))  # fmt: skip
    return problems
