"""The mapping primitives: X12 value formats and product identifier pairs."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from gateway.erp import ProductId
from gateway.errors import MappingError
from gateway.mapping.common import (
    loops,
    parse_cents,
    parse_date,
    parse_decimal,
    parse_money,
    parse_time,
    product_id_elements,
    product_ids_from,
    segment,
    x12_cents,
    x12_decimal,
)
from gateway.x12 import Segment


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.50"), "12.5"), (Decimal("10"), "10"), (Decimal("10.00"), "10"),
        (Decimal("0.25"), "0.25"), (Decimal("1E+2"), "100"), (Decimal("-3.10"), "-3.1"), (7, "7"),
    ],
)  # fmt: skip
def test_decimal_is_written_as_r(value: Decimal, text: str) -> None:
    """R values carry no exponent and no superfluous trailing zeros (X12.6 3.5.3)."""
    assert x12_decimal(value) == text
    assert parse_decimal(text, "X") == Decimal(value)


def test_cents_are_n2() -> None:
    """N2 carries whole cents: 1234.5 -> 123450 and back; a fraction of a cent is refused."""
    assert x12_cents(Decimal("1234.5")) == "123450"
    assert parse_cents("123450", "TDS01") == Decimal("1234.50")
    with pytest.raises(MappingError, match="fractions of a cent"):
        x12_cents(Decimal("1.005"))


def test_dates_and_times() -> None:
    """DT is CCYYMMDD (YYMMDD read too); TM is HHMM; bad values name the element."""
    assert segment("DTM", "011", date(2025, 3, 14)).elements == ("011", "20250314")
    assert parse_date("250314", "BSN03") == date(2025, 3, 14)
    assert parse_time("1530", "BSN04") == time(15, 30)
    with pytest.raises(MappingError, match="DTM02 '20251399' is not a date"):
        parse_date("20251399", "DTM02")


def test_segment_drops_trailing_empties_and_refuses_booleans() -> None:
    """None is an empty element; trailing empties are dropped; a bool has no X12 form."""
    assert segment("N1", "ST", None, "92", "RIC2", None) == Segment("N1", ("ST", "", "92", "RIC2"))
    with pytest.raises(TypeError):
        segment("CSH", True)


def test_product_ids_round_trip_in_order() -> None:
    """Identifier pairs keep the order and the exact values sent; an unknown qualifier is an
    error naming the segment."""
    ids = [ProductId(kind="upc", value="850001234016"), ProductId(kind="asin", value="B0C7K2Q9XA")]
    elements = product_id_elements(ids)
    assert elements == ["UP", "850001234016", "BP", "B0C7K2Q9XA"]
    assert product_ids_from(elements, "PO1") == ids
    with pytest.raises(MappingError, match="PO1: product id qualifier 'ZZ'"):
        product_ids_from(["ZZ", "1"], "PO1")


def test_loops_split_on_the_opening_segment() -> None:
    """Each loop holds its opener and the segments up to the next opener."""
    segments = [Segment("BEG"), Segment("PO1", ("1",)), Segment("CTP"), Segment("PO1", ("2",))]
    assert [(s.text(1), [b.tag for b in body]) for s, body in loops(segments, "PO1")] == [
        ("1", ["CTP"]), ("2", []),
    ]  # fmt: skip


def _strptime_date(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%y%m%d" if len(text) == 6 else "%Y%m%d").date()
    except ValueError:
        return None


def test_dates_are_read_as_strptime_reads_them() -> None:
    """DT and YYMMDD read field by field give what strptime gives (the century of YY
    included), and whatever strptime refuses is refused."""
    texts = [f"{year}{month:02d}{day:02d}" for year in ("0000", "0999", "1999", "2024", "9999")
             for month in range(0, 15) for day in (0, 1, 28, 29, 30, 31, 32, 40, 99)]  # fmt: skip
    texts += [f"{yy:02d}{month:02d}{day:02d}" for yy in range(0, 100, 7)
              for month in (0, 1, 2, 12, 13) for day in (0, 1, 29, 31, 32)]  # fmt: skip
    for text in texts:
        expected = _strptime_date(text)
        if expected is None:
            with pytest.raises(MappingError, match="is not a date"):
                parse_date(text, "DTM02")
        else:
            assert parse_date(text, "DTM02") == expected, text


@pytest.mark.parametrize(
    ("text", "amount"),
    [("12.5", "12.50"), ("12", "12.00"), ("12.50", "12.50"), ("0.4575", "0.4575"),
     (".25", "0.25"), ("1E+1", "10.00"), ("1.5E-5", "0.000015")],
)  # fmt: skip
def test_money_has_at_least_two_decimal_places(text: str, amount: str) -> None:
    """R money keeps what it was written with, and gets two decimal places when it has
    fewer."""
    assert str(parse_money(text, "PO104")) == amount
