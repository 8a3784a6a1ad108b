"""Check digits of product identifiers and shipping container codes.

GTIN-8/12/13/14 and SSCC-18 carry a GS1 mod-10 check digit (GS1 General Specifications
section 7.9.1): digits are weighted 3, 1, 3, ... from the right, the check digit excluded,
and the check digit brings the weighted sum to a multiple of ten. ISBN-13 is an EAN-13 in the
978/979 "Bookland" prefixes (ISO 2108); ISBN-10 uses mod 11 with weights 10..1, the check
character ``X`` standing for ten. amazon-x12.md section 9 ("Identifier check digits") names
the lengths per X12 qualifier: ``UP`` 12, ``EN`` 13, ``UK`` 14, SSCC 18 or 20 with ``00``.

The functions here are pure and never raise for a bad value: they answer ``False`` or
return :class:`~gateway.erp.Problem` records.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from gateway.erp import Problem, ProductId

#: GTIN lengths (GS1 General Specifications 4.2): GTIN-8, -12, -13, -14.
GTIN_LENGTHS = (8, 12, 13, 14)

#: Product id kind -> the GTIN lengths it takes. ``upc`` (UP) is the 12-digit U.P.C.-A
#: (1-5-5-1), ``ean`` (EN) the EAN-13 (2-5-5-1), ``gtin14`` (UK) the 14-digit shipping
#: container code; the case codes (UA, EO) are GTINs of a trade item grouping, written in
#: any GTIN length.
_GTIN_KINDS: dict[str, tuple[int, ...]] = {
    "upc": (12,),
    "ean": (13,),
    "gtin14": (14,),
    "upc_case": GTIN_LENGTHS,
    "ean_case": GTIN_LENGTHS,
}
#: Kinds with no check digit: Amazon's ASIN and the vendor's and buyer's own numbers.
NO_CHECK_DIGIT_KINDS = frozenset(
    {"asin", "vendor_item", "vendor_part", "vendor_style", "vendor_catalog", "sku",
     "buyer_catalog"}
)  # fmt: skip


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (the digits before the check digit).

    ``body`` must be ASCII digits; the weights are 3, 1, 3, ... counted from the right.
    """
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _gs1_valid(code: str, lengths: Collection[int]) -> bool:
    return (
        len(code) in lengths
        and code.isascii()
        and code.isdigit()
        and gs1_check_digit(code[:-1]) == int(code[-1])
    )


def gtin_valid(code: str) -> bool:
    """True when ``code`` is a GTIN-8, -12, -13 or -14: only digits, one of those lengths,
    and a correct GS1 mod-10 check digit. No spaces or hyphens are accepted: X12 carries
    the identifier as plain digits."""
    return _gs1_valid(code, GTIN_LENGTHS)


def isbn_valid(code: str) -> bool:
    """True when ``code`` is an ISBN-10 (nine digits and a mod-11 check character, ``X``
    for ten, upper case) or an ISBN-13 (978 or 979 followed by ten digits, GS1 mod-10).
    Hyphens and spaces are not accepted."""
    if len(code) == 13:
        return code[:3] in ("978", "979") and _gs1_valid(code, (13,))
    if len(code) != 10 or not code.isascii():
        return False
    body, check = code[:9], code[9]
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        return False
    # ISO 2108 (ISBN-10): sum of digit * weight, weights 10 down to 1, is 0 modulo 11.
    values = [int(d) for d in body] + [10 if check == "X" else int(check)]
    return sum(v * w for v, w in zip(values, range(10, 0, -1), strict=True)) % 11 == 0


def isbn10_check_character(body: str) -> str:
    """The ISBN-10 check character for nine digits ``body``: ``0``-``9`` or ``X`` (ten)."""
    remainder = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
    check = (11 - remainder) % 11
    return "X" if check == 10 else str(check)


def sscc_valid(code: str) -> bool:
    """True when ``code`` is an SSCC-18, alone or after the GS1-128 application identifier
    ``00`` (20 digits, the form Amazon asks of GS1-128 users, amazon-x12.md section 5), with
    a correct GS1 mod-10 check digit."""
    if len(code) == 20 and code.startswith("00"):
        code = code[2:]
    return _gs1_valid(code, (18,))


def sscc_key(code: str) -> str:
    """The 18-digit SSCC of ``code``: the ``00`` application identifier of the 20-digit
    form removed, so both spellings of one SSCC compare equal."""
    return code[2:] if len(code) == 20 and code.startswith("00") else code


def _expected_form(kind: str) -> str:
    if kind == "isbn":
        return "an ISBN-10 (9 digits and a check digit or X) or an ISBN-13 (978/979 + 10 digits)"
    lengths = _GTIN_KINDS[kind]
    if len(lengths) == 1:
        return f"{lengths[0]} digits"
    return "a GTIN of " + ", ".join(str(n) for n in lengths[:-1]) + f" or {lengths[-1]} digits"


def _well_formed(kind: str, value: str) -> bool:
    if not value.isascii():
        return False
    if kind == "isbn":
        if len(value) == 13:
            return value.isdigit() and value[:3] in ("978", "979")
        return len(value) == 10 and value[:9].isdigit() and (value[9].isdigit() or value[9] == "X")
    return value.isdigit() and len(value) in _GTIN_KINDS[kind]


def product_id_problems(
    product_ids: Sequence[ProductId],
    path: str,
    *,
    known: Collection[ProductId] = (),
) -> list[Problem]:
    """Problems of the check-digit kinds among ``product_ids`` (found at JSON path ``path``,
    e.g. ``$.lines[0].product_ids``).

    ``upc`` takes 12 digits, ``ean`` 13, ``gtin14`` 14, ``upc_case``/``ean_case`` any GTIN
    length, ``isbn`` an ISBN-10 or ISBN-13; each with its check digit. ``upc_consumer`` (UI,
    the 1-5-5 U.P.C. without check digit) takes 11 digits, or 12 checked as a U.P.C.-A.
    ASINs and vendor or buyer numbers have no check digit and are not examined.

    A wrong length or character is ``product_id_format``, a wrong check digit
    ``check_digit``; both are errors (Amazon rejects lines with an invalid product
    identifier, amazon-x12.md section 4), except for an identifier in ``known`` (the ones
    Amazon itself sent on the PO line): the vendor must echo those exactly (section 4, PO1
    row), so a bad one is only a warning.
    """
    problems: list[Problem] = []
    for index, product_id in enumerate(product_ids):
        kind, value = product_id.kind, product_id.value
        severity: Literal["error", "warning"] = "warning" if product_id in known else "error"
        where = f"{path}[{index}].value"
        if kind in NO_CHECK_DIGIT_KINDS:
            continue
        if kind == "upc_consumer":
            # X12 UI is the 1-5-5 U.P.C. (11 digits, no check digit); a 12-digit value is
            # read as the full U.P.C.-A and its check digit is verified.
            if value.isascii() and value.isdigit() and len(value) == 11:
                continue
            if not (value.isascii() and value.isdigit() and len(value) == 12):
                problems.append(Problem(
                    where, f"a {kind} identifier is 11 or 12 digits, not {value!r}",
                    "product_id_format", severity,
                ))  # fmt: skip
            elif not gtin_valid(value):
                problems.append(_bad_check_digit(where, kind, value, severity))
            continue
        if not _well_formed(kind, value):
            problems.append(Problem(
                where, f"a {kind} identifier is {_expected_form(kind)}, not {value!r}",
                "product_id_format", severity,
            ))  # fmt: skip
            continue
        valid = isbn_valid(value) if kind == "isbn" else gtin_valid(value)
        if not valid:
            problems.append(_bad_check_digit(where, kind, value, severity))
    return problems


def _bad_check_digit(
    where: str, kind: str, value: str, severity: Literal["error", "warning"]
) -> Problem:
    if len(value) == 10:  # ISBN-10
        rule = f"ISBN-10 mod 11, expected {isbn10_check_character(value[:9])}"
    else:
        rule = f"GS1 mod 10, expected {gs1_check_digit(value[:-1])}"
    echoed = " (as sent on the purchase order)" if severity == "warning" else ""
    return Problem(
        where,
        f"{kind} {value} has a wrong check digit ({rule}){echoed}",
        "check_digit",
        severity,
    )
