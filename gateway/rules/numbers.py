"""Decimal helpers shared by the rules: how a number is shown in a message, and money to the
cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def show(value: Decimal) -> str:
    """``value`` as a person writes it: no exponent, no trailing zeros (``24``, ``12.5``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def money(value: Decimal) -> str:
    """``value`` rounded half up to cents and shown with two decimals (``12.50``)."""
    return format(to_cents(value), "f")


def to_cents(value: Decimal) -> Decimal:
    """``value`` rounded half up to whole cents: the rounding a money total takes once, at the
    end, never per line (amazon-x12.md section 6, TDS01 formula)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
