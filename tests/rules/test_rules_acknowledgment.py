"""The 855 on its own (amazon-x12.md section 4): quantities per line, statuses, unit cost,
units and rejection reasons, each reported at its JSON path."""

from __future__ import annotations

from typing import Any

from gateway.rules.acknowledgment import acknowledgment_problems
from tests.rules.rules_builders import acknowledgment, acknowledgment_data, changed, found


def problems_after(path: str, value: Any) -> list[tuple[str, str, str]]:
    """(path, code, severity) of the problems once ``path`` is set to ``value``."""
    data = changed(acknowledgment_data(), path, value)
    return found(acknowledgment_problems(acknowledgment(data)))


def test_a_full_acceptance_has_no_problem() -> None:
    """Every line accepted in full, at a positive cost: nothing to report."""
    assert acknowledgment_problems(acknowledgment()) == []


def test_partial_acceptance_with_dated_backorder_and_stated_rejection_passes() -> None:
    """Rule 3: 24 ordered = 10 accepted + 8 backordered (with a date) + 6 rejected (with a
    reason): no problem."""
    statuses = [
        {"status": "accepted", "quantity": "10", "unit": "EA"},
        {"status": "backordered", "quantity": "8", "unit": "EA", "scheduled_date": "2025-04-01"},
        {"status": "rejected", "quantity": "6", "unit": "EA",
         "rejection_reason": "temporarily_unavailable"},
    ]  # fmt: skip
    assert problems_after("lines[0].statuses", statuses) == []


def test_statuses_over_the_ordered_quantity_are_an_error() -> None:
    """Rule 3: 20 accepted + 5 backordered on 24 ordered."""
    statuses = [
        {"status": "accepted", "quantity": "20", "unit": "EA"},
        {"status": "backordered", "quantity": "5", "unit": "EA", "scheduled_date": "2025-04-01"},
    ]
    data = changed(acknowledgment_data(), "lines[0].statuses", statuses)
    problems = acknowledgment_problems(acknowledgment(data))
    assert found(problems) == [("$.lines[0].statuses", "quantity_exceeds_ordered", "error")]
    assert "acknowledges 25 EA but 24 were ordered" in problems[0].message


def test_statuses_under_the_ordered_quantity_are_a_warning() -> None:
    """Rules 2 and 4: an unacknowledged remainder is implicitly rejected; say so."""
    problems = acknowledgment_problems(
        acknowledgment(changed(acknowledgment_data(), "lines[1].statuses[0].quantity", "7"))
    )
    assert found(problems) == [("$.lines[1].statuses", "quantity_unacknowledged", "warning")]
    assert "other 3 as rejected" in problems[0].message


def test_a_rejection_of_zero_is_an_error() -> None:
    """Rule 4: the rejected quantity must be stated; IR with ACK02 = 0 is wrong."""
    statuses = [
        {"status": "accepted", "quantity": "24", "unit": "EA"},
        {"status": "rejected", "quantity": "0", "unit": "EA"},
    ]
    assert problems_after("lines[0].statuses", statuses) == [
        ("$.lines[0].statuses[1].quantity", "quantity_not_positive", "error")
    ]


def test_an_acceptance_of_zero_is_an_error() -> None:
    """Rule 3: each ACK loop states the quantity it acknowledges; 0 accepted is nothing
    (and the line then falls short of the ordered quantity)."""
    statuses = [
        {"status": "accepted", "quantity": "0", "unit": "EA"},
        {"status": "rejected", "quantity": "24", "unit": "EA"},
    ]
    assert problems_after("lines[0].statuses", statuses) == [
        ("$.lines[0].statuses[0].quantity", "quantity_not_positive", "error")
    ]


def test_a_backorder_without_date_is_a_warning() -> None:
    """Rule 3: a backordered loop carries quantity and date."""
    statuses = [{"status": "backordered", "quantity": "24", "unit": "EA"}]
    assert problems_after("lines[0].statuses", statuses) == [
        ("$.lines[0].statuses[0].scheduled_date", "backorder_without_date", "warning")
    ]


def test_a_zero_unit_cost_is_an_error_on_a_line_that_ships() -> None:
    """Rule 5: the cost is returned for every accepted or backordered line."""
    assert problems_after("lines[2].unit_cost", "0") == [
        ("$.lines[2].unit_cost", "unit_cost_not_positive", "error")
    ]


def test_a_zero_unit_cost_on_a_fully_rejected_line_is_a_warning() -> None:
    """A line rejected in full ships nothing; its missing cost is only a warning."""
    data = changed(acknowledgment_data(), "lines[2].statuses",
                   [{"status": "rejected", "quantity": "6", "unit": "EA"}])  # fmt: skip
    data = changed(data, "lines[2].unit_cost", "0")
    assert found(acknowledgment_problems(acknowledgment(data))) == [
        ("$.lines[2].unit_cost", "unit_cost_not_positive", "warning")
    ]


def test_a_status_in_another_unit_is_an_error() -> None:
    """ACK03 is the PO line's unit: quantities in cases cannot be counted against eaches."""
    assert problems_after("lines[1].statuses[0].unit", "CA") == [
        ("$.lines[1].statuses[0].unit", "unit_mismatch", "error")
    ]


def test_a_rejection_reason_on_an_acceptance_is_an_error() -> None:
    """Amazon's rejection reasons explain rejections only."""
    assert problems_after("lines[0].statuses[0].rejection_reason", "obsolete_product") == [
        ("$.lines[0].statuses[0].rejection_reason", "rejection_reason_not_allowed", "error")
    ]


def test_a_line_acknowledged_twice_is_an_error() -> None:
    """Section 4: one PO1 loop per 850 line."""
    data = acknowledgment_data()
    data["lines"].append(dict(data["lines"][0]))
    problems = acknowledgment_problems(acknowledgment(data))
    assert found(problems) == [("$.lines[3].line_id", "duplicate_line", "error")]
    assert "first at $.lines[0]" in problems[0].message


def test_several_problems_are_all_reported_in_document_order() -> None:
    """Nothing stops at the first problem."""
    data = changed(acknowledgment_data(), "lines[0].statuses[0].quantity", "30")
    data = changed(data, "lines[2].statuses[0].rejection_reason", "obsolete_product")
    assert found(acknowledgment_problems(acknowledgment(data))) == [
        ("$.lines[0].statuses", "quantity_exceeds_ordered", "error"),
        ("$.lines[2].statuses[0].rejection_reason", "rejection_reason_not_allowed", "error"),
    ]
