"""Primitives every set mapping shares: X12 value formats, product identifier pairs,
segment building, and walking a transaction set by loops.

Value formats (X12.6 section 3.5): DT is ``CCYYMMDD``; TM ``HHMM``; R a decimal number
with no exponent, no leading ``+``, no superfluous trailing zeros; N2 an integer with two
implied decimal places (``$1,234.50`` -> ``123450``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import ValidationError

from gateway.erp.checked import NOT_GIVEN, builder, checked
from gateway.erp.common import PRODUCT_ID_KINDS, PRODUCT_ID_QUALIFIERS, Address, ProductId
from gateway.erp.document import problems_of
from gateway.errors import MappingError
from gateway.x12 import Element, Segment, Transaction, element_text

Value = str | Decimal | int | date | None
M = TypeVar("M")


def x12_date(value: date) -> str:
    """A date as DT ``CCYYMMDD``."""
    if value.year >= 1000:  # strftime's %Y does not pad years before 1000 on every platform
        return f"{value.year}{value.month:02d}{value.day:02d}"
    return value.strftime("%Y%m%d")


def x12_time(value: time | datetime) -> str:
    """A time as TM ``HHMM``."""
    return value.strftime("%H%M")


def x12_decimal(value: Decimal | int) -> str:
    """A number as R: ``12.50`` -> ``12.5``, ``10`` -> ``10``, never an exponent."""
    number = value if value.__class__ is Decimal else Decimal(value)
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


_DATE = re.compile(r"[0-9]{6}|[0-9]{8}")
_TIME = re.compile(r"[0-9]{4}|[0-9]{6}|[0-9]{7,8}")


def parse_date(text: str, where: str) -> date:
    """DT ``CCYYMMDD`` (or ``YYMMDD``) -> date; ``where`` names the element for the error."""
    # Exactly 6 or 8 digits (strptime would take "2025031"); the fields are then fixed.
    if _DATE.fullmatch(text) is None:
        raise MappingError(f"{where} {text!r} is not a date")
    try:
        if len(text) == 6:
            # YY as strptime's %y reads it (POSIX): 69-99 are 1969-1999, 00-68 2000-2068.
            year = int(text[:2])
            return date(year + (2000 if year <= 68 else 1900), int(text[2:4]), int(text[4:]))
        # CCYYMMDD is ISO 8601's basic form: one call instead of three slices and ints.
        return date.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{where} {text!r} is not a date") from None


def parse_time(text: str, where: str) -> time:
    """TM ``HHMM``, ``HHMMSS`` or ``HHMMSSdd`` -> time (hundredths dropped)."""
    if _TIME.fullmatch(text) is None:
        raise MappingError(f"{where} {text!r} is not a time")
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


#: R written with two decimal places or more: its Decimal needs no quantizing.
_CENTS_OR_FINER = re.compile(r"[0-9]*\.[0-9]{2,}")
_CENT = Decimal("0.01")


def parse_money(text: str, where: str) -> Decimal:
    """R money -> Decimal with at least two decimal places (``12.5`` -> ``12.50``,
    ``0.4575`` kept): the form the ERP documents write amounts in."""
    number = parse_decimal(text, where)
    if _CENTS_OR_FINER.fullmatch(text) is not None:
        return number
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        return number.quantize(_CENT)
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
    """Qualifier/value pairs -> identifiers, in the order sent; empty pairs are skipped.

    ``where`` names the segment in errors; :func:`product_ids_of` names each element.
    """
    ids: list[ProductId] = []
    for index in range(0, len(elements) - 1, 2):
        qualifier, value = elements[index], elements[index + 1]
        if not qualifier and not value:
            continue
        kind = PRODUCT_ID_KINDS.get(qualifier)
        if kind is None:
            raise MappingError(f"{where}: product id qualifier {qualifier!r} is not supported")
        ids.append(build(ProductId, {"value": where}, kind=kind, value=value))
    return ids


def product_ids_of(
    seg: Segment,
    first_position: int,
    last_position: int,
    where: str = "",
    sent: list[str] | None = None,
) -> list[ProductId]:
    """The product identifier pairs of ``seg`` in elements ``first_position``..
    ``last_position`` (PO106..PO125, LIN02..LIN31...), in the order sent.

    Each qualifier goes with its value (X12 paired syntax notes such as P0607); errors name
    the element: ``PO106 'ZZ' is not a supported product id qualifier``, after ``where``.
    ``sent`` is the text of those elements as far as they were sent, when the caller has it.
    """
    if sent is None:
        # Whole pairs only: the last is (last_position - 1, last_position) when the span is even.
        pairs = len(range(first_position, last_position, 2))
        sent = sent_texts(seg, first_position, first_position + 2 * pairs - 1)
    values = sent
    if len(values) % 2:
        values = [*values, ""]
    ids: list[ProductId] = []
    for index in range(0, len(values), 2):
        qualifier, value = values[index], values[index + 1]
        if not qualifier and not value:
            continue
        kind = PRODUCT_ID_KINDS.get(qualifier)
        if kind is None or not value:
            raise _product_id_error(seg, first_position + index, qualifier, value, where)
        product = _new_product_id(kind=kind, value=value)
        if product is None:
            value_element = f"{seg.tag}{first_position + index + 1:02d}"
            product = build(ProductId, {"value": value_element}, where, kind=kind, value=value)
        ids.append(product)
    return ids


#: ProductId built without validation when its values plainly fit (None otherwise).
_new_product_id = builder(ProductId)


def _product_id_error(
    seg: Segment, at: int, qualifier: str, value: str, where: str
) -> MappingError:
    """The error for the pair at ``at``/``at + 1`` of ``seg``: half a pair, or a qualifier
    that is not supported."""
    prefix = f"{where} " if where else ""
    qualifier_element = f"{seg.tag}{at:02d}"
    value_element = f"{seg.tag}{at + 1:02d}"
    if not qualifier or not value:
        missing = qualifier_element if not qualifier else value_element
        return MappingError(
            f"{prefix}{missing} is empty; {qualifier_element} and {value_element} go together"
        )
    return MappingError(
        f"{prefix}{qualifier_element} {qualifier!r} is not a supported product id qualifier"
    )


def build(model: type[M], elements: Mapping[str, str], where: str = "", **fields: Any) -> M:
    """``model(**fields)``; a value the model refuses becomes a MappingError naming the
    X12 element it came from (``elements`` maps field names to element ids) and the
    value: ``PO103 'QQ' cannot be carried: ...``. ``where`` prefixes the message. A field
    passed :data:`~gateway.erp.checked.NOT_GIVEN` is left out.

    Values already in their validated form are taken without running the validators
    (:func:`gateway.erp.checked.checked`): the same instance, faster."""
    built = checked(model, fields)  # which takes NOT_GIVEN as not passed
    if built is not None:
        return built
    fields = {name: value for name, value in fields.items() if value is not NOT_GIVEN}
    try:
        return model(**fields)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        element = elements.get(field, field or getattr(model, "__name__", "document"))
        value = fields.get(field)
        shown = repr(str(value)) if isinstance(value, Decimal) else repr(value)
        prefix = f"{where} " if where else ""
        message = error["msg"].removeprefix("Value error, ")
        raise MappingError(f"{prefix}{element} {shown} cannot be carried: {message}") from exc


def from_data(model: type[M], data: Mapping[str, Any], where: str) -> M:
    """A whole document from the data read out of a set; what the model refuses becomes
    one MappingError listing each problem by JSON path, after ``where``."""
    try:
        return model.model_validate(data)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        found = "; ".join(str(p) for p in problems_of(exc))
        raise MappingError(
            f"{where}: content does not fit a{'n' if model.__name__[0] in 'AEIOU' else ''}"
            f" {model.__name__}: {found}"
        ) from exc


#: Address fields and the N1/N3/N4 elements they travel in.
ADDRESS_ELEMENTS = {
    "name": "N102", "id_qualifier": "N103", "id": "N104", "street": "N301",
    "city": "N401", "state": "N402", "postal_code": "N403", "country": "N404",
}  # fmt: skip


def address_segments(entity: str, party: Address) -> list[Segment]:
    """N1 of ``entity`` (N101, e.g. ``SF``), then N3 when there is a street and N4 when
    there is any part of a place."""
    out = [segment("N1", entity, party.name, party.id_qualifier, party.id)]
    if party.street:
        out.append(segment("N3", *party.street))
    if any(v is not None for v in (party.city, party.state, party.postal_code, party.country)):
        out.append(segment("N4", party.city, party.state, party.postal_code, party.country))
    return out


def address_of(n1: Segment, loop: Sequence[Segment]) -> Address:
    """The Address of an N1 loop (N1 and the N3/N4 that follow it)."""
    n3 = first(loop, "N3")
    n4 = first(loop, "N4") or Segment("N4")
    return build(
        Address, ADDRESS_ELEMENTS, f"N1*{n1.text(1)}",
        name=n1.text(2) or None, id_qualifier=optional(n1, 3), id=optional(n1, 4),
        street=[t for t in texts(n3, 1, 2) if t] if n3 is not None else [],
        city=optional(n4, 1), state=optional(n4, 2), postal_code=optional(n4, 3),
        country=optional(n4, 4),
    )  # fmt: skip


def segment(tag: str, *values: Value | Element) -> Segment:
    """A segment from plain values: ``None`` is an empty element, dates become DT, decimals
    R, ints N0. Trailing empty elements are dropped by the writer."""
    elements: list[Element] = []
    for value in values:
        if value.__class__ is str:
            elements.append(value)  # the common case, first
        elif value is None:
            elements.append("")
        elif isinstance(value, bool):
            raise TypeError("booleans have no X12 form; map them to a code")
        elif isinstance(value, (Decimal, int)):
            elements.append(x12_decimal(value))
        elif isinstance(value, date):
            elements.append(x12_date(value))
        else:
            elements.append(value)
    while elements and elements[-1] == "":
        elements.pop()
    return Segment(tag, tuple(elements))


def texts(seg: Segment, first: int, last: int) -> list[str]:
    """Elements ``first``..``last`` (1-based, inclusive, ``first`` >= 1) of ``seg`` as
    text, ``""`` for those not sent."""
    values = sent_texts(seg, first, last)
    if len(values) <= last - first:
        values += [""] * (last - first + 1 - len(values))
    return values


def sent_texts(seg: Segment, first: int, last: int) -> list[str]:
    """Elements ``first``..``last`` of ``seg`` as text, as far as they were sent: what
    :meth:`Segment.text` gives for each, without a call per element."""
    return [
        value if value.__class__ is str else element_text(value)
        for value in seg.elements[first - 1 : last]
    ]


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
