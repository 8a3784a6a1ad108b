"""810 Invoice <-> :class:`~gateway.erp.Invoice` (amazon-x12.md section 6; maps/810.4010.xml).

The set, in the map's order::

    BIG*<invoice_date>*<invoice_number>*<po_date>*<po_number>
    CUR*BT*<currency>                                    (required by the map, so always sent)
    REF*IA*<vendor_code>                                 when given
    N1*BT / N1*RI / N1*SF (+ N3, N4)                      bill_to, remit_to, ship_from
    N1*ST*<name>*<qualifier>*<code>                      ship_to, when given
    ITD*<type>*<basis>*<discount %>**<discount days>**<net days>*****<description>
    DTM*011*<ship_date>                                  when given (shipped)
    IT1*<line_id>*<quantity>*<unit>*<unit_price>*<price_basis>*<qualifier>*<id>...
    TDS*<total in cents>
    TXI*<type>*<amount>*<percent>                        one per tax
    SAC*<C|A>*<code>***<amount in cents>**********<description>   one per charge/allowance
    CTT*<number of IT1>*<sum of IT102>

CUR precedes REF because the map puts CUR at position 040 and REF at 050. In the summary
the header TXI (position 020) precedes the SAC loop (040), whose own TXI would be a tax on
that charge; CTT (070) closes the set. TDS01 and SAC05 are N2 (whole cents): an amount with
a fraction of a cent is refused, naming the element.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.erp.common import Location, Source
from gateway.erp.invoice import ChargeOrAllowance, Invoice, InvoiceLine, PaymentTerms, Tax
from gateway.errors import MappingError
from gateway.mapping.common import (
    address_of,
    address_segments,
    before,
    build,
    first,
    loops,
    optional,
    parse_cents,
    parse_date,
    parse_decimal,
    parse_money,
    product_id_elements,
    product_ids_of,
    require,
    segment,
    x12_cents,
    x12_decimal,
)
from gateway.x12 import Segment, Transaction

SET_ID = "810"
#: CUR01 (element 98): the currency is the bill-to party's [I].
CURRENCY_ENTITY = "BT"
#: REF01 of the vendor code Amazon assigned: ``IA`` internal vendor number.
VENDOR_CODE_QUALIFIER = "IA"
#: SAC01 (element 248) of each kind, and back.
CHARGE_INDICATORS: dict[str, str] = {"charge": "C", "allowance": "A"}
_KIND_OF_INDICATOR = {code: kind for kind, code in CHARGE_INDICATORS.items()}
#: The parties of the header N1 loop: entity code (N101) -> Invoice field.
PARTIES: dict[str, str] = {"BT": "bill_to", "RI": "remit_to", "SF": "ship_from"}

#: DTM01 for the date shipped (element 374 code 011).
SHIPPED = "011"

def from_erp(document: Invoice, *, release: str = "004010") -> list[Segment]:
    """The segments between ST and SE of the 810 for ``document``.

    Raises :class:`MappingError` for a release other than 004010 (Amazon trades the 810 at
    004010 only), a party id without its qualifier (N103/N104 are paired), or an amount
    with a fraction of a cent in TDS01 or SAC05 (N2).
    """
    if release != "004010":
        raise MappingError(f"the 810 is traded at 004010 only, not {release!r} (GS08)")
    if not isinstance(document, Invoice):
        raise MappingError(f"an 810 is built from an invoice, not {type(document)}")
    big = segment(
        "BIG", document.invoice_date, document.invoice_number, document.po_date,
        document.po_number,
    )  # fmt: skip
    body = [big, segment("CUR", CURRENCY_ENTITY, document.currency)]
    if document.vendor_code is not None:
        body.append(segment("REF", VENDOR_CODE_QUALIFIER, document.vendor_code))
    for entity, field in PARTIES.items():
        body.extend(address_segments(entity, getattr(document, field)))
    if document.ship_to is not None:
        ship_to = document.ship_to
        body.append(segment("N1", "ST", ship_to.name, ship_to.qualifier, ship_to.code))
    terms = document.terms
    itd = segment(
        "ITD", terms.type_code, terms.basis_date_code, terms.discount_percent, None,
        terms.discount_days, None, terms.net_days, None, None, None, None, terms.description,
    )  # fmt: skip
    body.append(itd)
    if document.ship_date is not None:
        body.append(segment("DTM", SHIPPED, document.ship_date))
    hash_total = Decimal(0)
    for line in document.lines:
        it1 = segment(
            "IT1", line.line_id, line.quantity, line.unit, line.unit_price, line.price_basis,
            *product_id_elements(line.product_ids),
        )  # fmt: skip
        body.append(it1)
        hash_total += line.quantity
    body.append(segment("TDS", _cents(document.total, "TDS01", "total")))
    body.extend(segment("TXI", tax.type_code, tax.amount, tax.percent) for tax in document.taxes)
    for index, charge in enumerate(document.charges):
        amount = _cents(charge.amount, "SAC05", f"charges[{index}].amount")
        sac = segment(
            "SAC", CHARGE_INDICATORS[charge.kind], charge.code, None, None, amount,
            *[None] * 9, charge.description,
        )  # fmt: skip
        body.append(sac)
    body.append(segment("CTT", len(document.lines), hash_total))
    return body



def _cents(value: Decimal, element: str, field: str) -> str:
    try:
        return x12_cents(value)
    except MappingError as exc:
        raise MappingError(f"{element} ({field}): {exc}") from None


def to_erp(transaction: Transaction, source: Source | None = None) -> Invoice:
    """The :class:`Invoice` an 810 carries: the exact reverse of :func:`from_erp`.

    CTT01/CTT02 are checked against the lines. Raises :class:`MappingError` naming the
    element when content has no place in the document (a missing BIG, CUR or party, a
    repeated ITD, line-level TXI/SAC, a tax on a charge, SAC01 ``N``, totals that do not
    add up, a value the ERP model refuses).
    """
    del source  # an 810 is the vendor's own document; it has no inbound source block
    if transaction.set_id != SET_ID:
        raise MappingError(f"ST01 {transaction.set_id!r} is not an 810")
    segments = list(transaction.segments)
    big = require(first(segments, "BIG"), "BIG", transaction)
    it1_loops = list(loops(segments, "IT1"))
    if not it1_loops:
        raise MappingError(f"transaction set 810 {transaction.control_number} has no IT1")
    header = segments[: segments.index(it1_loops[0][0])]
    rest = segments[segments.index(it1_loops[0][0]) :]
    if first(rest, "TDS") is None:
        raise MappingError(f"transaction set 810 {transaction.control_number} has no TDS")
    summary = rest[rest.index(first(rest, "TDS")) :]  # type: ignore[arg-type]
    cur = require(first(header, "CUR"), "CUR", transaction)
    if cur.text(1) != CURRENCY_ENTITY:
        raise MappingError(f"CUR01 {cur.text(1)!r}: the currency is stated for BT (bill-to)")
    ref = first(before(header, "N1"), "REF", VENDOR_CODE_QUALIFIER)
    parties = _parties(header, transaction)
    itds = [seg for seg in header if seg.tag == "ITD"]
    if len(itds) != 1:
        raise MappingError(f"ITD appears {len(itds)} times; the invoice carries one set of terms")
    shipped = first(header[header.index(itds[0]) :], "DTM", SHIPPED)
    lines = [_line(it1, before(body, "TDS")) for it1, body in it1_loops]
    taxes, charges = _summary(summary)
    _check_totals(require(first(summary, "CTT"), "CTT", transaction), lines)
    return build(
        Invoice,
        {"invoice_date": "BIG01", "invoice_number": "BIG02", "po_date": "BIG03",
         "po_number": "BIG04", "vendor_code": "REF02", "currency": "CUR02", "total": "TDS01",
         "ship_date": "DTM02"},
        invoice_number=big.text(2), invoice_date=parse_date(big.text(1), "BIG01"),
        po_number=big.text(4), po_date=parse_date(big.text(3), "BIG03"),
        vendor_code=optional(ref, 2) if ref is not None else None, currency=cur.text(2),
        ship_date=parse_date(shipped.text(2), "DTM02") if shipped is not None else None,
        **parties, terms=_terms(itds[0]), lines=lines, charges=charges, taxes=taxes,
        total=parse_cents(summary[0].text(1), "TDS01"),
    )  # fmt: skip


def _parties(header: list[Segment], transaction: Transaction) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for n1, body in loops(header, "N1"):
        entity = n1.text(1)
        field = PARTIES.get(entity, "ship_to" if entity == "ST" else None)
        if field is None:
            raise MappingError(f"N101 {entity!r}: only BT, RI, SF and ST are mapped")
        if field in found:
            raise MappingError(f"N1*{entity} appears twice")
        if entity == "ST":
            found[field] = build(
                Location, {"name": "N102", "qualifier": "N103", "code": "N104"}, f"N1*{entity}",
                name=optional(n1, 2), qualifier=n1.text(3) or None, code=n1.text(4) or None,
            )  # fmt: skip
            continue
        found[field] = address_of(n1, body)
    for entity, field in PARTIES.items():
        if field not in found:
            require(None, f"N1*{entity}", transaction)
    return found


def _terms(itd: Segment) -> PaymentTerms:
    for position in (1, 2):
        if not itd.text(position):
            raise MappingError(f"ITD0{position} is empty; the terms type and basis are required")
    return build(
        PaymentTerms,
        {"type_code": "ITD01", "basis_date_code": "ITD02", "discount_percent": "ITD03",
         "discount_days": "ITD05", "net_days": "ITD07", "description": "ITD12"},
        type_code=itd.text(1), basis_date_code=itd.text(2),
        discount_percent=_optional_number(itd, 3, "ITD03"),
        discount_days=_optional_count(itd, 5, "ITD05"),
        net_days=_optional_count(itd, 7, "ITD07"), description=optional(itd, 12),
    )  # fmt: skip


def _optional_number(seg: Segment, position: int, where: str) -> Decimal | None:
    text = seg.text(position)
    return parse_decimal(text, where) if text else None


def _optional_count(seg: Segment, position: int, where: str) -> int | None:
    """An N0 element as int (None when empty)."""
    text = seg.text(position)
    if not text:
        return None
    if not text.isdigit():
        raise MappingError(f"{where} {text!r} is not a whole number")
    return int(text)


def _line(it1: Segment, body: list[Segment]) -> InvoiceLine:
    where = f"IT1 {it1.text(1)!r}"
    for seg in body:
        if seg.tag in ("TXI", "SAC"):
            raise MappingError(
                f"{where}: line-level {seg.tag} is not mapped (taxes, charges and allowances"
                " are carried at invoice level)"
            )
    return build(
        InvoiceLine,
        {"line_id": "IT101", "quantity": "IT102", "unit": "IT103", "unit_price": "IT104",
         "price_basis": "IT105", "product_ids": "IT106"},
        where,
        line_id=it1.text(1), quantity=parse_decimal(it1.text(2), f"{where} IT102"),
        unit=it1.text(3), unit_price=parse_money(it1.text(4), f"{where} IT104"),
        price_basis=optional(it1, 5), product_ids=product_ids_of(it1, 6, 25, where),
    )  # fmt: skip


def _summary(summary: list[Segment]) -> tuple[list[Tax], list[ChargeOrAllowance]]:
    """Header TXIs (before the SAC loop) and SACs; a TXI inside a SAC loop is refused."""
    taxes: list[Tax] = []
    charges: list[ChargeOrAllowance] = []
    for seg in summary[1:]:
        if seg.tag == "TXI":
            if charges:
                raise MappingError(
                    f"TXI after SAC {charges[-1].code!r}: a tax on a charge is not mapped"
                )
            tax = build(
                Tax, {"type_code": "TXI01", "amount": "TXI02", "percent": "TXI03"},
                type_code=seg.text(1),
                amount=parse_money(seg.text(2), "TXI02") if seg.text(2) else None,
                percent=_optional_number(seg, 3, "TXI03"),
            )  # fmt: skip
            taxes.append(tax)
        elif seg.tag == "SAC":
            kind = _KIND_OF_INDICATOR.get(seg.text(1))
            if kind is None:
                raise MappingError(f"SAC01 {seg.text(1)!r}: only C and A are mapped")
            if not seg.text(5):
                raise MappingError(f"SAC {seg.text(2)!r} has no SAC05 amount")
            charge = build(
                ChargeOrAllowance,
                {"kind": "SAC01", "code": "SAC02", "amount": "SAC05", "description": "SAC15"},
                kind=kind, code=seg.text(2) or None,
                amount=parse_cents(seg.text(5), "SAC05"), description=optional(seg, 15),
            )  # fmt: skip
            charges.append(charge)
    return taxes, charges


def _check_totals(ctt: Segment, lines: list[InvoiceLine]) -> None:
    if ctt.text(1) != str(len(lines)):
        raise MappingError(f"CTT01 {ctt.text(1)!r} does not match the {len(lines)} IT1 segments")
    hash_total = sum((line.quantity for line in lines), Decimal(0))
    if ctt.text(2) and parse_decimal(ctt.text(2), "CTT02") != hash_total:
        raise MappingError(
            f"CTT02 {ctt.text(2)!r} is not the sum of IT102 ({x12_decimal(hash_total)})"
        )


