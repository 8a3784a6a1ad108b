"""The 810 on its own (amazon-x12.md section 6): total arithmetic to the cent, never zero,
line quantities, invoice date."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.rules.invoice import expected_total, invoice_problems
from tests.rules.rules_builders import TODAY, changed, found, invoice, invoice_data


def problems_after(path: str, value: Any) -> list[tuple[str, str, str]]:
    """(path, code, severity) of the problems once ``path`` is set to ``value``."""
    data = changed(invoice_data(), path, value)
    return found(invoice_problems(invoice(data), today=TODAY))


def test_a_correct_invoice_has_no_problem() -> None:
    """24 x 12.49 + 10 x 5.25 + 6 x 19.99 = 472.20, dated today."""
    assert expected_total(invoice()) == Decimal("472.20")
    assert invoice_problems(invoice(), today=TODAY) == []


def test_a_total_off_by_one_cent_is_an_error_naming_the_expected_total() -> None:
    """Section 6: the total is exact to the cent."""
    for total in ("472.19", "472.21"):
        data = changed(invoice_data(), "total", total)
        (problem,) = invoice_problems(invoice(data), today=TODAY)
        assert (problem.path, problem.code, problem.severity) == (
            "$.total",
            "total_mismatch",
            "error",
        )
        assert problem.message.endswith("= 472.20")


def test_charges_add_allowances_subtract_and_taxes_add() -> None:
    """472.20 + 15.00 freight - 7.20 allowance + 3.10 tax = 483.10."""
    data = invoice_data()
    data["charges"] = [
        {"kind": "charge", "code": "D240", "amount": "15.00"},
        {"kind": "allowance", "code": "C310", "amount": "7.20"},
    ]
    data["taxes"] = [{"type_code": "ST", "amount": "3.10"}]
    data["total"] = "483.10"
    assert invoice_problems(invoice(data), today=TODAY) == []
    data["total"] = "472.20"
    assert found(invoice_problems(invoice(data), today=TODAY)) == [
        ("$.total", "total_mismatch", "error")
    ]


def test_the_sum_is_exact_and_rounded_half_up_once() -> None:
    """Lines are multiplied exactly and the sum rounded once: 3 x 0.3333 = 0.9999 and
    3 x 0.0050 = 0.0150, together 1.0149 -> 1.01 (per-line rounding would give 1.02); and
    1 x 0.005 alone rounds half up to 0.01."""
    data = invoice_data()
    data["lines"] = [
        {**data["lines"][0], "quantity": "3", "unit_price": "0.3333"},
        {**data["lines"][1], "quantity": "3", "unit_price": "0.0050"},
    ]
    data["total"] = "1.01"
    assert invoice_problems(invoice(data), today=TODAY) == []
    data["lines"] = [{**data["lines"][0], "quantity": "1", "unit_price": "0.005"}]
    data["total"] = "0.01"
    assert invoice_problems(invoice(data), today=TODAY) == []


def test_a_total_with_more_than_cents_does_not_pass() -> None:
    """TDS01 carries cents; 472.2000 is 472.20, and 472.195 is refused by the model."""
    assert problems_after("total", "472.2000") == []
    with pytest.raises(ValidationError, match="at most 2 decimal places"):
        problems_after("total", "472.195")


def test_a_zero_total_is_an_error() -> None:
    """Section 6: never total = 0, even when the lines add up to 0."""
    data = invoice_data()
    data["lines"] = [{**line, "unit_price": "0"} for line in data["lines"]]
    data["total"] = "0"
    assert found(invoice_problems(invoice(data), today=TODAY)) == [
        ("$.total", "total_zero", "error")
    ]


def test_a_zero_line_quantity_is_an_error() -> None:
    """Only shipped items are invoiced; 0 units is no item (the total changes with it)."""
    data = changed(invoice_data(), "lines[1].quantity", "0")
    data = changed(data, "total", "419.70")
    assert found(invoice_problems(invoice(data), today=TODAY)) == [
        ("$.lines[1].quantity", "quantity_not_positive", "error")
    ]


def test_an_invoice_dated_tomorrow_is_an_error() -> None:
    """BIG01 <= now: today passes, tomorrow does not."""
    assert problems_after("invoice_date", "2025-03-12") == []
    assert problems_after("invoice_date", "2025-03-13") == [
        ("$.invoice_date", "invoice_date_future", "error")
    ]
