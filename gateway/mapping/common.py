"""Primitives every set mapping shares: X12 value formats, product identifier pairs,
segment building, and walking a transaction set by loops.

Value formats (X12.6 section 3.5): DT is ``CCYYMMDD``; TM ``HHMM``; R a decimal number
with no exponent, no leading ``+``, no superfluous trailing zeros; N2 an integer with two
implied decimal places (``$1,234.50`` -> ``123450``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from gateway.erp.common import PRODUCT_ID_KINDS, PRODUCT_ID_QUALIFIERS, ProductId
from gateway.errors import MappingError
from gateway.x12 import Element, Segment, Transaction

Value = str | Decimal | int | date | None


def x12_date(value: date) -> str:
    """A date as DT ``CCYYMMDD``."""
    return value.strftime("%Y%m%d")


def x12_time(value: time | datetime) -> str:
    """A time as TM ``HHMM``."""
    return value.strftime("%H%M")


def x12_decimal(value: Decimal | int) -> str:
    """A number as R: ``12.50`` -> ``12.5``, ``10`` -> ``10``, never an exponent."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def x12_cents(value: Decimal) -> str:
    """An amount as N2 (implied two decimals): ``1234.5`` -> ``123450``. Refuses a value
    with fractions of a cent, which N2 cannot carry."""
    cents = value * 100
    if cents != cents.to_integral_value():
        raise MappingError(f"{value} has fractions of a cent; N2 carries whole cents")
    return str(int(cents))


def parse_date(text: str, where: str) -> date:
    """DT ``CCYYMMDD`` (or ``YYMMDD``) -> date; ``where`` names the element for the error."""
    try:
        if len(text) == 6:
            return datetime.strptime(text, "%y%m%d").date()
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise MappingError(f"{where} {text!r} is not a date") from None


def parse_time(text: str, where: str) -> time:
    """TM ``HHMM[SS]`` -> time."""
    try:
        return datetime.strptime(text[:6], "%H%M%S" if len(text) >= 6 else "%H%M").time()
    except ValueError:
        raise MappingError(f"{where} {text!r} is not a time") from None


def parse_decimal(text: str, where: str) -> Decimal:
    """R or N0 -> Decimal (exactly as written)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise MappingError(f"{where} {text!r} is not a number") from None
    if not number.is_finite():
        raise MappingError(f"{where} {text!r} is not a number")
    return number


def parse_cents(text: str, where: str) -> Decimal:
    """N2 -> Decimal: ``123450`` -> ``1234.50``."""
    return (parse_decimal(text, where) / 100).quantize(Decimal("0.01"))


def product_id_elements(ids: Sequence[ProductId]) -> list[str]:
    """Identifiers as consecutive qualifier/value element pairs (PO106/PO107, ...)."""
    elements: list[str] = []
    for product in ids:
        elements += [PRODUCT_ID_QUALIFIERS[product.kind], product.value]
    return elements


def product_ids_from(elements: Sequence[str], where: str) -> list[ProductId]:
    """Qualifier/value pairs -> identifiers, in the order sent; empty pairs are skipped."""
    ids: list[ProductId] = []
    for index in range(0, len(elements) - 1, 2):
        qualifier, value = elements[index], elements[index + 1]
        if not qualifier and not value:
            continue
        kind = PRODUCT_ID_KINDS.get(qualifier)
        if kind is None:
            raise MappingError(f"{where}: product id qualifier {qualifier!r} is not supported")
        ids.append(ProductId(kind=kind, value=value))  # type: ignore[arg-type]
    return ids


def segment(tag: str, *values: Value | Element) -> Segment:
    """A segment from plain values: ``None`` is an empty element, dates become DT, decimals
    R, ints N0. Trailing empty elements are dropped by the writer."""
    elements: list[Element] = []
    for value in values:
        if value is None:
            elements.append("")
        elif isinstance(value, bool):
            raise TypeError("booleans have no X12 form; map them to a code")
        elif isinstance(value, Decimal | int):
            elements.append(x12_decimal(value))
        elif isinstance(value, date):
            elements.append(x12_date(value))
        else:
            elements.append(value)
    while elements and elements[-1] == "":
        elements.pop()
    return Segment(tag, tuple(elements))


def texts(seg: Segment, first: int, last: int) -> list[str]:
    """Elements ``first``..``last`` (1-based, inclusive) of ``seg`` as text."""
    return [seg.text(i) for i in range(first, last + 1)]


def optional(seg: Segment, position: int) -> str | None:
    """Element text, or None when empty."""
    return seg.text(position) or None


def loops(segments: Iterable[Segment], opener: str) -> Iterator[tuple[Segment, list[Segment]]]:
    """Split ``segments`` into loops started by ``opener``: yields (opening segment,
    segments of the loop until the next opener). Segments before the first opener and
    after the loops are not yielded; take them with :func:`before`."""
    current: Segment | None = None
    body: list[Segment] = []
    for seg in segments:
        if seg.tag == opener:
            if current is not None:
                yield current, body
            current, body = seg, []
        elif current is not None:
            body.append(seg)
    if current is not None:
        yield current, body


def before(segments: Iterable[Segment], tag: str) -> list[Segment]:
    """The segments up to the first ``tag``."""
    out: list[Segment] = []
    for seg in segments:
        if seg.tag == tag:
            break
        out.append(seg)
    return out


def first(segments: Iterable[Segment], tag: str, qualifier: str | None = None) -> Segment | None:
    """The first segment ``tag`` (whose element 01 is ``qualifier``, when given)."""
    for seg in segments:
        if seg.tag == tag and (qualifier is None or seg.text(1) == qualifier):
            return seg
    return None


def require(seg: Segment | None, what: str, transaction: Transaction) -> Segment:
    """``seg``, or a MappingError naming what is missing from which set."""
    if seg is None:
        raise MappingError(
            f"transaction set {transaction.set_id} {transaction.control_number} has no {what}"
        )
    return seg
