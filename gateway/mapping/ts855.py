"""855 Purchase Order Acknowledgment <-> :class:`~gateway.erp.PoAcknowledgment`
(amazon-x12.md section 4; maps/855.4010.xml).

The set, in the map's order::

    BAK*00*<AC|AD>*<po_number>*<po_date>****<seller_order_number>
    N1*ST*<name>*<qualifier>*<code>                     ship_to, when given
    PO1*<line_id>*<ordered>*<unit>*<unit_cost>*<price_basis>*<qualifier>*<id>...
    CTP**NET*<unit_cost>                                 (PO1 loop, position 040)
    ACK*<IA|IB|IR>*<quantity>*<unit>*<068|067>*<date>...*ZZ**<reason>   one per status
    CTT*<number of PO1>*<sum of PO102>

BAK02 is derived: ``AD`` (acknowledged with detail, no change) when every line has one
status, ``accepted``, for its whole ordered quantity; ``AC`` (with detail and change)
otherwise. Amazon states the unit cost on every line (amazon-x12.md section 4 rule 5), so
the cost goes both in PO104 and in ``CTP*NET``.

A rejection reason (Amazon's SP-API names) is carried as ACK27 ``ZZ`` (agency qualifier,
mutually defined) + ACK29 (industry code) [I]: the map's syntax rule C2827 makes ACK28
(source subqualifier) require ACK27, so the code list agency belongs in ACK27 and ACK28
stays empty.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.erp.common import Location, Source
from gateway.erp.po_acknowledgment import (
    DATE_QUALIFIERS,
    LINE_STATUS_CODES,
    REJECTION_REASONS,
    AcknowledgedLine,
    LineStatus,
    PoAcknowledgment,
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
    texts,
    x12_decimal,
)
from gateway.x12 import Segment, Transaction

SET_ID = "855"
#: Agency qualifier (ACK27, element 559) of the rejection reasons: ``ZZ`` mutually defined.
REASON_AGENCY = "ZZ"

_STATUS_OF_CODE = {code: status for status, code in LINE_STATUS_CODES.items()}
_KIND_OF_QUALIFIER = {qualifier: kind for kind, qualifier in DATE_QUALIFIERS.items()}
_REASON_OF_CODE = {code: reason for reason, code in REJECTION_REASONS.items()}


def acknowledgment_type(document: PoAcknowledgment) -> str:
    """BAK02: ``AD`` when every line has a single status accepting the whole ordered quantity
    in the ordered unit, else ``AC``."""
    for line in document.lines:
        if len(line.statuses) != 1:
            return "AC"
        status = line.statuses[0]
        if (status.status, status.quantity, status.unit) != (
            "accepted", line.ordered_quantity, line.unit
        ):
            return "AC"
    return "AD"


def from_erp(document: PoAcknowledgment, *, release: str = "004010") -> list[Segment]:
    """The segments between ST and SE of the 855 acknowledging ``document``.

    Raises :class:`MappingError` for a release other than 004010 (Amazon trades the 855 at
    004010 only) or a document that is not a :class:`PoAcknowledgment`.
    """
    if release != "004010":
        raise MappingError(f"the 855 is traded at 004010 only, not {release!r} (GS08)")
    if not isinstance(document, PoAcknowledgment):
        raise MappingError(f"an 855 is built from a po_acknowledgment, not {type(document)}")
    bak = segment(
        "BAK", "00", acknowledgment_type(document), document.po_number, document.po_date,
        None, None, None, document.seller_order_number,
    )  # fmt: skip
    body = [bak]
    if document.ship_to is not None:
        ship_to = document.ship_to
        body.append(segment("N1", "ST", ship_to.name, ship_to.qualifier, ship_to.code))
    hash_total = Decimal(0)
    for line in document.lines:
        po1 = segment(
            "PO1", line.line_id, line.ordered_quantity, line.unit, line.unit_cost,
            line.price_basis, *product_id_elements(line.product_ids),
        )  # fmt: skip
        body.append(po1)
        body.append(segment("CTP", None, "NET", line.unit_cost))
        body.extend(_ack(status) for status in line.statuses)
        hash_total += line.ordered_quantity
    body.append(segment("CTT", len(document.lines), hash_total))
    return body


def _ack(status: LineStatus) -> Segment:
    """ACK01-05 and, for a rejection reason, ACK27/ACK29 (ACK06-ACK26 empty)."""
    values: list[Any] = [LINE_STATUS_CODES[status.status], status.quantity, status.unit]
    if status.scheduled_date is not None:
        values += [DATE_QUALIFIERS[status.scheduled_date_kind], status.scheduled_date]
    if status.rejection_reason is not None:
        values += [None] * (26 - len(values))
        values += [REASON_AGENCY, None, REJECTION_REASONS[status.rejection_reason]]
    return segment("ACK", *values)


def to_erp(transaction: Transaction, source: Source | None = None) -> PoAcknowledgment:
    """The :class:`PoAcknowledgment` an 855 carries: the exact reverse of :func:`from_erp`.

    BAK02 and CTT01/CTT02 are derived, so they are checked against the lines. Raises
    :class:`MappingError` naming the element when content has no place in the document
    (an ACK01 other than IA/IB/IR, an unknown ACK04 qualifier or ACK29 reason, a CTP
    price other than PO104, a heading N1 other than one ST, totals that do not add up, a
    value the ERP model refuses). Segments the document has no field for and that change
    nothing it says (REF, DTM, PER...) are not read.
    """
    del source  # an 855 is the vendor's own document; it has no inbound source block
    if transaction.set_id != SET_ID:
        raise MappingError(f"ST01 {transaction.set_id!r} is not an 855")
    segments = transaction.segments
    bak = require(first(segments, "BAK"), "BAK", transaction)
    po1_loops = list(loops(segments, "PO1"))
    if not po1_loops:
        raise MappingError(
            f"transaction set 855 {transaction.control_number} has no PO1 (no line acknowledged)"
        )
    header = segments[: segments.index(po1_loops[0][0])]
    ship_to = None
    n1_segments = [seg for seg in header if seg.tag == "N1"]
    for n1 in n1_segments:
        if n1.text(1) != "ST":
            raise MappingError(f"N101 {n1.text(1)!r}: only the ship-to (ST) is mapped")
    if len(n1_segments) > 1:
        raise MappingError("N1*ST appears twice")
    if n1_segments:
        n1 = n1_segments[0]
        ship_to = build(
            Location, {"name": "N102", "qualifier": "N103", "code": "N104"}, "N1*ST",
            name=optional(n1, 2), qualifier=n1.text(3) or None, code=n1.text(4) or None,
        )  # fmt: skip
    lines = [_line(po1, body) for po1, body in po1_loops]
    _check_totals(require(first(po1_loops[-1][1], "CTT"), "CTT", transaction), lines)
    document = build(
        PoAcknowledgment,
        {"po_number": "BAK03", "po_date": "BAK04", "seller_order_number": "BAK08"},
        po_number=bak.text(3), po_date=parse_date(bak.text(4), "BAK04"),
        seller_order_number=optional(bak, 8), ship_to=ship_to, lines=lines,
    )  # fmt: skip
    if bak.text(2) != acknowledgment_type(document):
        raise MappingError(
            f"BAK02 {bak.text(2)!r} contradicts the lines, which make it"
            f" {acknowledgment_type(document)!r}"
        )
    return document


def _line(po1: Segment, body: list[Segment]) -> AcknowledgedLine:
    where = f"PO1 {po1.text(1)!r}"
    unit_cost = parse_money(po1.text(4), f"{where} PO104")
    ctp = first(body, "CTP")
    if ctp is not None:
        if ctp.text(2) != "NET":
            raise MappingError(f"{where} CTP02 {ctp.text(2)!r}: only the NET price is mapped")
        if parse_decimal(ctp.text(3), f"{where} CTP03") != unit_cost:
            raise MappingError(f"{where} CTP03 {ctp.text(3)!r} differs from PO104 {po1.text(4)!r}")
    acks = [seg for seg in body if seg.tag == "ACK"]
    if not acks:
        raise MappingError(f"{where} has no ACK (every line needs a status)")
    return build(
        AcknowledgedLine,
        {"line_id": "PO101", "ordered_quantity": "PO102", "unit": "PO103",
         "unit_cost": "PO104", "price_basis": "PO105", "product_ids": "PO106"},
        where,
        line_id=po1.text(1), ordered_quantity=parse_decimal(po1.text(2), f"{where} PO102"),
        unit=po1.text(3), unit_cost=unit_cost, price_basis=optional(po1, 5),
        product_ids=product_ids_of(po1, 6, 25, where),
        statuses=[_status(ack, where) for ack in acks],
    )  # fmt: skip


def _status(ack: Segment, where: str) -> LineStatus:
    status = _STATUS_OF_CODE.get(ack.text(1))
    if status is None:
        raise MappingError(
            f"{where} ACK01 {ack.text(1)!r}: only {', '.join(_STATUS_OF_CODE)} are mapped"
        )
    fields: dict[str, Any] = {
        "status": status,
        "quantity": parse_decimal(ack.text(2), f"{where} ACK02"),
        "unit": ack.text(3),
    }
    if ack.text(4) or ack.text(5):
        kind = _KIND_OF_QUALIFIER.get(ack.text(4))
        if kind is None:
            raise MappingError(
                f"{where} ACK04 {ack.text(4)!r}: only {', '.join(_KIND_OF_QUALIFIER)} are mapped"
            )
        fields["scheduled_date_kind"] = kind
        fields["scheduled_date"] = parse_date(ack.text(5), f"{where} ACK05")
    if ack.text(27) or ack.text(28) or ack.text(29):
        reason = _REASON_OF_CODE.get(ack.text(29))
        if ack.text(27) != REASON_AGENCY or ack.text(28) or reason is None:
            raise MappingError(
                f"{where} ACK27-29 {texts(ack, 27, 29)!r}: a rejection reason is ACK27"
                f" {REASON_AGENCY!r} and ACK29 one of {', '.join(_REASON_OF_CODE)}"
            )
        fields["rejection_reason"] = reason
    return build(
        LineStatus,
        {"status": "ACK01", "quantity": "ACK02", "unit": "ACK03", "scheduled_date": "ACK05",
         "scheduled_date_kind": "ACK04", "rejection_reason": "ACK29"},
        where,
        **fields,
    )  # fmt: skip


def _check_totals(ctt: Segment, lines: list[AcknowledgedLine]) -> None:
    if ctt.text(1) != str(len(lines)):
        raise MappingError(f"CTT01 {ctt.text(1)!r} does not match the {len(lines)} PO1 segments")
    hash_total = sum((line.ordered_quantity for line in lines), Decimal(0))
    if ctt.text(2) and parse_decimal(ctt.text(2), "CTT02") != hash_total:
        raise MappingError(
            f"CTT02 {ctt.text(2)!r} is not the sum of PO102 ({x12_decimal(hash_total)})"
        )


