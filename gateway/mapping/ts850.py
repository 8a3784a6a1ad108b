"""850 Purchase Order (Amazon -> vendor, 004010) <-> :class:`~gateway.erp.PurchaseOrder`.

What is mapped (amazon-x12.md section 3, positions of maps/850.4010.xml):

======================  =====================================================
BEG02 / BEG03 / BEG05   ``order_type`` / ``po_number`` / ``po_date``
CUR02                   ``currency`` (CUR01 ``BY``, the buyer's currency)
REF*CR / REF*PD         ``vendor_code`` / ``promotion_number``
FOB01, FOB02 + FOB03    ``freight.payment``, ``freight.incoterms``
CSH01 Y / N             ``back_order_allowed`` true / false
DTM*064 / DTM*063       ``ship_window.not_before`` / ``not_after``
N1*ST (N102-N104)       ``ship_to``
PO1 loop                one line: PO101-PO105, PO106-PO125 product ids, CTP*LPR list price,
                        PID*F description
CTT                     checked against the lines (CTT01 count, CTT02 hash of PO102)
======================  =====================================================

Segments the ERP document has no field for (PER, TAX, SAC, ITD, PKG, TD5, N9/MSG, N2-N4 of the
ship-to, other N1 parties, other CTP prices, line-level DTM...) are not carried to the ERP.
``from_erp`` is the exact reverse of ``to_erp`` for everything the document carries, so a set
holding only those segments, written the way ``from_erp`` writes them, round-trips unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

from pydantic import BaseModel

from gateway.erp.checked import NOT_GIVEN, builder
from gateway.erp.common import Location, Source
from gateway.erp.purchase_order import (
    FREIGHT_PAYMENTS,
    ORDER_TYPES,
    FreightTerms,
    PurchaseOrder,
    PurchaseOrderLine,
    ShipWindow,
)
from gateway.errors import MappingError
from gateway.mapping.common import (
    build,
    first,
    loops,
    optional,
    parse_date,
    parse_decimal,
    parse_money,
    product_id_elements,
    product_ids_of,
    require,
    segment,
    sent_texts,
    x12_decimal,
)
from gateway.x12 import Segment, Transaction

SET_ID = "850"
#: The only release Amazon trades the 850 at (amazon-x12.md section 2, GS08).
RELEASE = "004010"

_ORDER_TYPE_CODES = {kind: code for code, kind in ORDER_TYPES.items()}
_FREIGHT_PAYMENT_CODES = {payment: code for code, payment in FREIGHT_PAYMENTS.items()}
#: CSH01 sales requirement code: Amazon sends ``Y`` (back order if out of stock) or ``N``
#: (no back order), amazon-x12.md section 3.
_BACK_ORDER = {"Y": True, "N": False}
#: FOB02 qualifier that makes FOB03 the Incoterms code. Amazon's guide puts the Incoterms
#: here (amazon-x12.md section 3, [D:S17]), not in FOB04 ``01`` / FOB05 as plain X12 would.
_INCOTERMS = "01"
#: Product identifier pairs of PO1: PO106/PO107 ... PO124/PO125.
_PRODUCT_ID_PAIRS = 10
#: CTT02 (element 347, R 1-10): X12 truncates the hash total's left-most digits when the sum
#: is longer than the element.
_HASH_DIGITS = 10

#: Heading loops of the 850 (table 1) and the segments each holds after its opener
#: (maps/850.4010.xml), so that a REF, DTM or CUR inside a loop is not read as the heading's.
_HEADING_LOOPS: dict[str, frozenset[str]] = {
    "SAC": frozenset({"CUR"}),
    "AMT": frozenset({"REF", "DTM"}),
    "N9": frozenset({"DTM", "MSG"}),
    "N1": frozenset({"N2", "N3", "N4", "REF", "PER", "FOB", "TD1", "TD5", "TD3", "TD4", "PKG"}),
}

#: A segment's tag (map() takes it without a Python call per segment).
_TAG = attrgetter("tag")

#: The element each document field comes from, to name it in errors.
_HEADER_ELEMENTS = {
    "po_number": "BEG03", "po_date": "BEG05", "vendor_code": "REF02 (REF*CR)",
    "promotion_number": "REF02 (REF*PD)", "currency": "CUR02",
}  # fmt: skip
_LINE_ELEMENTS = {
    "line_id": "PO101", "quantity": "PO102", "unit": "PO103", "unit_price": "PO104",
    "price_basis": "PO105", "product_ids": "PO106", "list_price": "CTP03 (CTP*LPR)",
    "description": "PID05 (PID*F)",
}  # fmt: skip
_SHIP_TO_ELEMENTS = {"qualifier": "N103", "code": "N104", "name": "N102"}
_FREIGHT_ELEMENTS = {"payment": "FOB01", "incoterms": "FOB03"}

M = TypeVar("M", bound=BaseModel)

#: Models built without validation when their values plainly fit (None otherwise).
_new_line = builder(PurchaseOrderLine)
_new_ship_window = builder(ShipWindow)


def to_erp(transaction: Transaction, source: Source | None = None) -> PurchaseOrder:
    """The :class:`PurchaseOrder` of one 850 (validated against the map beforehand).

    ``source`` is carried into the document unchanged. Raises
    :class:`~gateway.errors.MappingError`, naming the element and the segment position
    (ST = 1), when the business content cannot be mapped: a purpose other than original
    (BEG01 ``00``), an order type other than NE/CN/NP/RO, no ship-to (N1*ST), a line without a
    supported product identifier, half a delivery window, or totals (CTT) that disagree with
    the lines.
    """
    if transaction.set_id != SET_ID:
        raise MappingError(f"ST01 {transaction.set_id!r} is not an 850")
    segments = transaction.segments
    # The tags as a list, searched by list.index: a Python loop over the set costs more.
    tags = list(map(_TAG, segments))
    start = _index(tags, "PO1")
    if start is None:
        raise MappingError(
            f"transaction set 850 {transaction.control_number} has no PO1 line; an order has"
            " at least one"
        )
    end = _index(tags, "CTT", start)
    ctt = require(segments[end] if end is not None else None, "CTT", transaction)
    heading, n1_loops = _heading(segments[:start])

    beg = require(first(heading, "BEG"), "BEG", transaction)
    with _At(beg, segments):
        if beg.text(1) != "00":
            # The document has no purpose: a change or cancellation must not become a new order.
            raise MappingError(f"BEG01 {beg.text(1)!r} is not supported; only 00 (original)")
        order_type = ORDER_TYPES.get(beg.text(2))
        if order_type is None:
            raise MappingError(
                f"BEG02 {beg.text(2)!r} is not an Amazon order type ({', '.join(ORDER_TYPES)})"
            )
        po_date = parse_date(beg.text(5), "BEG05")

    lines = []
    po1 = segments[start]
    try:
        for po1, loop in loops(segments[start:end], "PO1"):
            lines.append(_line(po1, loop))
    except MappingError as exc:
        raise _placed(exc, po1, segments) from exc
    with _At(ctt, segments):
        _check_totals(ctt, lines)

    ship_tos = [loop for loop in n1_loops if loop[0].text(1) == "ST"]
    n1 = require(ship_tos[0][0] if ship_tos else None, "N1 loop with N101 'ST' (ship-to)",
                 transaction)  # fmt: skip
    with _At(n1, segments):
        if len(ship_tos) > 1:
            raise MappingError("N101 'ST' occurs more than once; an order has one ship-to")
        ship_to = build(Location, _SHIP_TO_ELEMENTS, **_ship_to_fields(n1))

    fields: dict[str, Any] = {}
    cur = first(heading, "CUR")
    if cur is not None:
        fields["currency"] = optional(cur, 2)
    for qualifier, field in (("CR", "vendor_code"), ("PD", "promotion_number")):
        ref = first(heading, "REF", qualifier)
        if ref is not None:
            fields[field] = optional(ref, 2)
    fob = first(heading, "FOB")
    if fob is not None:
        with _At(fob, segments):
            fields["freight"] = _freight(fob)
    csh = first(heading, "CSH")
    if csh is not None:
        with _At(csh, segments):
            if csh.text(1) not in _BACK_ORDER:
                raise MappingError(f"CSH01 {csh.text(1)!r} is not Y or N (back order or not)")
        fields["back_order_allowed"] = _BACK_ORDER[csh.text(1)]
    fields["ship_window"] = _ship_window(heading, segments)
    return build(
        PurchaseOrder, _HEADER_ELEMENTS, po_number=beg.text(3), order_type=order_type,
        po_date=po_date, ship_to=ship_to, lines=lines, source=source, **fields,
    )  # fmt: skip


def from_erp(document: PurchaseOrder, *, release: str = RELEASE) -> list[Segment]:
    """The segments between ST and SE of the 850 carrying ``document``, in map order.

    The exact reverse of :func:`to_erp`: BEG, CUR, REF*CR, REF*PD, FOB, CSH, DTM*064,
    DTM*063, N1*ST, then per line PO1, CTP*LPR, PID*F, and CTT. Values are written in their
    canonical X12 form (R without superfluous zeros, DT ``CCYYMMDD``). Raises
    :class:`~gateway.errors.MappingError` for a release other than 004010.
    """
    if release != RELEASE:
        raise MappingError(f"the 850 is traded at {RELEASE} only, not {release!r}")
    # BEG01 00: the gateway only carries original orders (amazon-x12.md section 3).
    body = [
        segment("BEG", "00", _ORDER_TYPE_CODES[document.order_type], document.po_number, None,
                document.po_date),
    ]  # fmt: skip
    if document.currency is not None:
        # CUR01 BY: the currency is the buyer's, Amazon's (X12 CUR, element 98).
        body.append(segment("CUR", "BY", document.currency))
    if document.vendor_code is not None:
        body.append(segment("REF", "CR", document.vendor_code))
    if document.promotion_number is not None:
        body.append(segment("REF", "PD", document.promotion_number))
    if document.freight is not None:
        incoterms = document.freight.incoterms
        body.append(segment("FOB", _FREIGHT_PAYMENT_CODES[document.freight.payment],
                            _INCOTERMS if incoterms else None, incoterms))  # fmt: skip
    if document.back_order_allowed is not None:
        body.append(segment("CSH", "Y" if document.back_order_allowed else "N"))
    if document.ship_window is not None:
        body.append(segment("DTM", "064", document.ship_window.not_before))
        body.append(segment("DTM", "063", document.ship_window.not_after))
    ship_to = document.ship_to
    body.append(segment("N1", "ST", ship_to.name, ship_to.qualifier, ship_to.code))
    for line in document.lines:
        body.append(
            segment("PO1", line.line_id, line.quantity, line.unit, line.unit_price,
                    line.price_basis, *product_id_elements(line.product_ids))
        )  # fmt: skip
        if line.list_price is not None:
            body.append(segment("CTP", None, "LPR", line.list_price))
        if line.description is not None:
            body.append(segment("PID", "F", None, None, None, line.description))
    # CTT01 the number of PO1 segments, CTT02 the hash total of PO102 (X12 CTT notes).
    hash_total = _hash_total(line.quantity for line in document.lines)
    body.append(segment("CTT", len(document.lines), hash_total))
    return body


def _index(tags: list[str], tag: str, start: int = 0) -> int | None:
    """The position of the first ``tag`` in ``tags`` from ``start`` on, or None."""
    try:
        return tags.index(tag, start)
    except ValueError:
        return None


def _heading(
    segments: Sequence[Segment],
) -> tuple[list[Segment], list[tuple[Segment, list[Segment]]]]:
    """The heading's own segments, and its N1 loops as (N1, rest of the loop)."""
    own: list[Segment] = []
    n1_loops: list[tuple[Segment, list[Segment]]] = []
    current: str | None = None
    for seg in segments:
        if seg.tag in _HEADING_LOOPS:
            current = seg.tag
            if seg.tag == "N1":
                n1_loops.append((seg, []))
        elif current is not None and seg.tag in _HEADING_LOOPS[current]:
            if current == "N1":
                n1_loops[-1][1].append(seg)
        else:
            current = None
            own.append(seg)
    return own, n1_loops


def _line(po1: Segment, loop: list[Segment]) -> PurchaseOrderLine:
    """One PO1 loop as a line; CTP and PID are searched in the loop (the first of each)."""
    sent = sent_texts(po1, 1, 25)
    line_id, quantity_text, unit, price_text, price_basis = (
        sent[:5] if len(sent) >= 5 else sent + [""] * (5 - len(sent))
    )
    if not line_id:
        raise MappingError("PO101 is empty; every line needs its id (echoed in 855/856/810)")
    quantity = parse_decimal(quantity_text, "PO102")
    product_ids = product_ids_of(po1, 6, 25, sent=sent[5:])
    unit_price = parse_money(price_text, "PO104") if price_text else NOT_GIVEN
    list_price = description = NOT_GIVEN
    if loop:
        # CTP01 (class of trade) is not used: the price is identified by CTP02 alone.
        lpr = next((seg for seg in loop if seg.tag == "CTP" and seg.text(2) == "LPR"), None)
        if lpr is not None and lpr.text(3):
            list_price = parse_money(lpr.text(3), "CTP03")
        pid = first(loop, "PID", "F")
        if pid is not None:
            description = optional(pid, 5)
    # The builder is called directly, without a dict of the fields: this runs for every line
    # of every order. A field passed NOT_GIVEN is one not sent.
    line = _new_line(
        line_id=line_id, quantity=quantity, unit=unit, unit_price=unit_price,
        price_basis=price_basis or None, product_ids=product_ids, description=description,
        list_price=list_price,
    )  # fmt: skip
    if line is None:
        # Not plainly valid: validation says why, naming the element.
        line = build(
            PurchaseOrderLine, _LINE_ELEMENTS, line_id=line_id, quantity=quantity, unit=unit,
            unit_price=unit_price, price_basis=price_basis or None, product_ids=product_ids,
            description=description, list_price=list_price,
        )  # fmt: skip
    return line


def _ship_to_fields(n1: Segment) -> dict[str, Any]:
    if not n1.text(3) or not n1.text(4):
        raise MappingError("N103/N104 are empty; the ship-to is known by its location code")
    fields: dict[str, Any] = {"qualifier": n1.text(3), "code": n1.text(4)}
    if n1.text(2):
        fields["name"] = n1.text(2)
    return fields


def _freight(fob: Segment) -> FreightTerms:
    payment = FREIGHT_PAYMENTS.get(fob.text(1))
    if payment is None:
        raise MappingError(
            f"FOB01 {fob.text(1)!r} is not a shipment method of payment"
            f" ({', '.join(FREIGHT_PAYMENTS)})"
        )
    incoterms = fob.text(3) if fob.text(2) == _INCOTERMS and fob.text(3) else None
    return build(FreightTerms, _FREIGHT_ELEMENTS, payment=payment, incoterms=incoterms)


def _ship_window(heading: Sequence[Segment], segments: Sequence[Segment]) -> ShipWindow | None:
    """DTM*064 and DTM*063 together, or None when neither is sent."""
    before, after = first(heading, "DTM", "064"), first(heading, "DTM", "063")
    if before is None and after is None:
        return None
    if before is None or after is None:
        present, missing = ("064", "063") if before is not None else ("063", "064")
        raise MappingError(
            f"DTM*{present} comes without DTM*{missing}; the delivery window needs both"
        )
    with _At(before, segments):
        not_before = parse_date(before.text(2), "DTM02 (DTM*064)")
    with _At(after, segments):
        not_after = parse_date(after.text(2), "DTM02 (DTM*063)")
    # Two dates are always a ShipWindow: validating them would only cost time.
    window = _new_ship_window(not_before=not_before, not_after=not_after)
    return window if window is not None else ShipWindow(not_before=not_before, not_after=not_after)


def _hash_total(quantities: Iterable[Decimal]) -> str:
    """CTT02: the sum of PO102 as R, its left-most digits cut beyond 10 (X12 CTT note)."""
    text = x12_decimal(sum(quantities, Decimal(0)))
    whole, _, fraction = text.partition(".")
    keep = max(_HASH_DIGITS - len(fraction), 0)
    if len(whole) > keep:
        whole = whole[len(whole) - keep :].lstrip("0") or "0"
    return f"{whole}.{fraction}" if fraction else whole


def _check_totals(ctt: Segment, lines: Sequence[PurchaseOrderLine]) -> None:
    """CTT01 must count the PO1 segments and CTT02 hash their PO102: a set that disagrees has
    lost or gained lines on the way, and the order would reach the ERP incomplete."""
    if ctt.text(1) != str(len(lines)):
        raise MappingError(f"CTT01 {ctt.text(1)!r} does not match the {len(lines)} PO1 lines")
    expected = _hash_total([line.quantity for line in lines])
    if parse_decimal(ctt.text(2), "CTT02") != Decimal(expected):
        raise MappingError(f"CTT02 {ctt.text(2)!r} does not match the sum of PO102 ({expected})")



class _At:
    """``with _At(seg, segments):`` adds the segment and its position in the set (ST = 1)
    to a MappingError's message."""

    __slots__ = ("seg", "segments")

    def __init__(self, seg: Segment, segments: Sequence[Segment]) -> None:
        self.seg, self.segments = seg, segments

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if isinstance(exc, MappingError):
            raise _placed(exc, self.seg, self.segments) from exc


def _placed(exc: MappingError, seg: Segment, segments: Sequence[Segment]) -> MappingError:
    """``exc`` with the segment and its position in the set (ST = 1) added."""
    # By identity, the last occurrence: two segments may be equal, or one object.
    position: int | str = "?"
    for index, other in enumerate(segments, start=2):
        if other is seg:
            position = index
    where = f"{seg.tag} at segment {position}"
    if seg.tag == "PO1":
        where += f", line {seg.text(1)!r}"
    return MappingError(f"{exc} ({where})")
