"""The 856 on its own (amazon-x12.md section 5): the ship-date window, delivery date, SSCC
check digits and uniqueness, carton and pallet counts, quantities, BOL and PRO."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from gateway.rules.ship_notice import ship_notice_problems
from tests.rules.rules_builders import (
    TODAY,
    changed,
    found,
    item,
    ship_notice,
    ship_notice_data,
    sscc,
)


def problems_after(path: str, value: Any) -> list[tuple[str, str, str]]:
    """(path, code, severity) of the problems once ``path`` is set to ``value``."""
    data = changed(ship_notice_data(), path, value)
    return found(ship_notice_problems(ship_notice(data), today=TODAY))


def test_a_complete_notice_has_no_problem() -> None:
    """Shipped today, delivered in two days, valid distinct SSCCs, counts that match."""
    assert ship_notice_problems(ship_notice(), today=TODAY) == []


@pytest.mark.parametrize(
    ("days", "ok"),
    [(-7, True), (-8, False), (2, True), (3, False), (0, True), (-1, True), (1, True)],
)
def test_ship_date_window_edges(days: int, ok: bool) -> None:
    """Rule 2: from exactly 7 days back to exactly 2 days ahead of today; 8 back or 3 ahead
    is refused."""
    ship_date = TODAY + timedelta(days=days)
    data = changed(ship_notice_data(), "ship_date", ship_date.isoformat())
    data = changed(data, "estimated_delivery", (ship_date + timedelta(days=2)).isoformat())
    problems = found(ship_notice_problems(ship_notice(data), today=TODAY))
    assert problems == ([] if ok else [("$.ship_date", "ship_date_window", "error")])


def test_ship_date_window_message_names_the_window() -> None:
    """The message gives the dates accepted."""
    data = changed(ship_notice_data(), "ship_date", "2025-03-01")
    (problem,) = ship_notice_problems(ship_notice(data), today=TODAY)
    assert "outside 2025-03-05..2025-03-14" in problem.message


def test_today_defaults_to_the_current_date() -> None:
    """Without ``today`` the window is around the local date now."""
    now = date.today()
    for days, expected in ((0, []), (-8, [("$.ship_date", "ship_date_window", "error")])):
        data = changed(ship_notice_data(), "ship_date", (now + timedelta(days=days)).isoformat())
        data = changed(data, "estimated_delivery", (now + timedelta(days=2)).isoformat())
        assert found(ship_notice_problems(ship_notice(data))) == expected


def test_delivery_before_ship_date_is_an_error() -> None:
    """Estimated delivery (DTM 017) not before the ship date (DTM 011); same day is fine."""
    assert problems_after("estimated_delivery", TODAY.isoformat()) == []
    assert problems_after("estimated_delivery", "2025-03-11") == [
        ("$.estimated_delivery", "delivery_before_ship", "error")
    ]


def test_a_carton_sscc_with_a_bad_check_digit_is_an_error() -> None:
    """Section 5, MAN: GS1 mod-10 check digit, here on a pallet carton."""
    bad = sscc(3)[:-1] + str((int(sscc(3)[-1]) + 1) % 10)
    assert problems_after("orders[0].pallets[0].cartons[1].sscc", bad) == [
        ("$.orders[0].pallets[0].cartons[1].sscc", "check_digit", "error")
    ]


def test_a_pallet_sscc_with_a_bad_check_digit_is_an_error() -> None:
    """The optional pallet SSCC is checked too."""
    assert problems_after("orders[0].pallets[0].sscc", "106141411234567890") == [
        ("$.orders[0].pallets[0].sscc", "check_digit", "error")
    ]


def test_sscc_with_application_identifier_is_accepted() -> None:
    """``00`` + SSCC-18 is the form Amazon asks of GS1-128 users."""
    assert problems_after("orders[0].cartons[0].sscc", "00" + sscc(4)) == []


def test_a_repeated_sscc_is_an_error_at_its_second_use() -> None:
    """Rule 5: every label unique; reported where it is used again, naming the first."""
    data = changed(ship_notice_data(), "orders[0].cartons[0].sscc", sscc(2))
    problems = ship_notice_problems(ship_notice(data), today=TODAY)
    assert found(problems) == [("$.orders[0].cartons[0].sscc", "duplicate_sscc", "error")]
    assert "$.orders[0].pallets[0].cartons[0].sscc" in problems[0].message


def test_a_carton_reusing_the_pallet_sscc_is_a_duplicate() -> None:
    """Pallet SSCCs count, and the 20-digit form of an SSCC is the same label."""
    assert problems_after("orders[0].pallets[0].cartons[0].sscc", "00" + sscc(1)) == [
        ("$.orders[0].pallets[0].cartons[0].sscc", "duplicate_sscc", "error")
    ]


def test_ssccs_are_unique_across_orders() -> None:
    """Two orders in one shipment cannot share a label."""
    data = ship_notice_data()
    other_order = {"po_number": "OTHERPO1", "cartons": [{"sscc": sscc(4), "items": [item(0)]}]}
    data["orders"].append(other_order)
    data["carton_count"] = 4
    assert found(ship_notice_problems(ship_notice(data), today=TODAY)) == [
        ("$.orders[1].cartons[0].sscc", "duplicate_sscc", "error")
    ]


@pytest.mark.parametrize("count", [2, 4])
def test_carton_count_must_match_the_cartons(count: int) -> None:
    """TD1: carton_count is the number of cartons listed, on pallets and loose."""
    assert problems_after("carton_count", count) == [
        ("$.carton_count", "carton_count_mismatch", "error")
    ]


def test_pallet_count_must_match_the_pallets() -> None:
    """TD1: pallet_count is the number of pallets listed (0 for parcel)."""
    assert problems_after("pallet_count", 0) == [
        ("$.pallet_count", "pallet_count_mismatch", "error")
    ]


def test_a_zero_shipped_quantity_is_an_error() -> None:
    """SN102 counts units shipped; a retail ASN does not announce zero."""
    assert problems_after("orders[0].cartons[0].items[0].quantity", "0") == [
        ("$.orders[0].cartons[0].items[0].quantity", "quantity_not_positive", "error")
    ]


@pytest.mark.parametrize("mode", ["motor", "ltl"])
def test_freight_without_bill_of_lading_is_an_error(mode: str) -> None:
    """Rule 4: the BOL is mandatory for TL/LTL in North America."""
    data = changed(ship_notice_data(), "carrier.mode", mode)
    data = changed(data, "bill_of_lading", None)
    assert found(ship_notice_problems(ship_notice(data), today=TODAY)) == [
        ("$.bill_of_lading", "bill_of_lading_missing", "error")
    ]


def test_parcel_needs_neither_bill_of_lading_nor_pro() -> None:
    """Small parcel: no BOL and no PRO number required."""
    data = changed(ship_notice_data(), "carrier", {"scac": "UPSN", "mode": "parcel"})
    data = changed(data, "bill_of_lading", None)
    data = changed(data, "pro_number", None)
    assert ship_notice_problems(ship_notice(data), today=TODAY) == []


def test_freight_without_pro_number_is_a_warning() -> None:
    """Rule 4: the PRO is mandatory in NA; its X12 home is inferred, so a warning."""
    assert problems_after("pro_number", None) == [("$.pro_number", "pro_number_missing", "warning")]


def test_a_one_character_bill_of_lading_is_an_error() -> None:
    """Rule 4: not a single character."""
    assert problems_after("bill_of_lading", "1") == [
        ("$.bill_of_lading", "bill_of_lading_format", "error")
    ]


@pytest.mark.parametrize("bol", ["20250312", "2025-03-12", "03/12/2025", "202503121030"])
def test_a_bill_of_lading_that_reads_as_a_date_is_a_warning(bol: str) -> None:
    """Rule 4: not a date/time."""
    assert problems_after("bill_of_lading", bol) == [
        ("$.bill_of_lading", "bill_of_lading_format", "warning")
    ]


def test_several_problems_are_all_reported() -> None:
    """Date, count and label problems together."""
    data = changed(ship_notice_data(), "ship_date", "2025-03-20")
    data = changed(data, "estimated_delivery", "2025-03-19")
    data = changed(data, "carton_count", 1)
    data = changed(data, "orders[0].cartons[0].sscc", sscc(2))
    assert found(ship_notice_problems(ship_notice(data), today=TODAY)) == [
        ("$.ship_date", "ship_date_window", "error"),
        ("$.estimated_delivery", "delivery_before_ship", "error"),
        ("$.orders[0].cartons[0].sscc", "duplicate_sscc", "error"),
        ("$.carton_count", "carton_count_mismatch", "error"),
    ]
