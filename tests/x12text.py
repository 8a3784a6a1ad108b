"""Small builders of X12 text shared by the tests."""

from __future__ import annotations


def isa(
    sep: str = "*",
    comp: str = ">",
    term: str = "~",
    *,
    rep: str = "U",
    version: str = "00401",
    control: str = "000000001",
    sender: str = "AMAZON",
    fields: dict[int, str] | None = None,
) -> str:
    """An ISA segment with its terminator; fixed width (106 characters) unless ``fields``
    overrides ISA01..ISA15 by position with values of another width."""
    values = [
        "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", "VENDOR".ljust(15),
        "240102", "1530", rep, version, control, "0", "P",
    ]  # fmt: skip
    for position, value in (fields or {}).items():
        values[position - 1] = value
    return "ISA" + sep + sep.join(values) + sep + comp + term
