"""856 Ship Notice/Manifest (ASN) <-> :class:`~gateway.erp.ShipNotice` (amazon-x12.md section 5).

``from_erp`` writes the segments between ST and SE at release 004010 or 005010 (Amazon's
current retail ASN guides are 5010, older ones and Direct Fulfillment 4010; the two maps
``maps/856.4010.xml`` and ``maps/856.5010.xml`` differ only in MEA and N4 elements this
mapping does not write, so the body is the same at both). ``to_erp`` is its exact reverse.

Layout (one flat HL loop, segments of each level in the map's position order)::

    BSN*<00|05>*<shipment id>*<CCYYMMDD>*<HHMM>*0001   BSN05 0001: shipment, order, pack, item
    HL*1**S*1                                          shipment
      TD1*CTN25*<cartons>****G*<weight>*<LB|KG>        carton count, gross weight
      TD1*PLT94*<pallets>                              when palletised
      TD5**2*<SCAC>*<TD504 mode>
      REF*BM / REF*CN / REF*AO                         BOL, PRO, Amazon reference number [I]
      DTM*011 / DTM*017                                shipped, estimated delivery
      N1*ST*<name>*<qualifier>*<FC>                    ship-to fulfilment centre
      N1*SF*<name>[*<qualifier>*<id>] N3 N4            ship-from with its address
    HL*n*1*O*1   PRF*<PO>***<PO date>                  per purchase order
    HL*n*o*T*1   [MAN*GM*<SSCC>]                       per pallet (tare); its SSCC is optional
    HL*n*t|o*P*1 MAN*GM*<SSCC>                         per carton (pack), on a pallet or loose
    HL*n*p*I*0   LIN*<line>*<ids> SN1**<qty>*<unit> [REF*LT*<lot>] [DTM*036*<expiry>]
    CTT*<number of HL>*<sum of SN102>

HL01 numbers the levels 1.. in order, HL02 is the parent's HL01 and HL04 is ``1`` when the
level has children, ``0`` otherwise. Within an order the pallets come first, then the loose
cartons. Business checks (carton count = cartons sent, SSCC check digits, level contents)
belong to the rules layer; this module only refuses what cannot be mapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.erp import (
    Carton,
    ShipNotice,
    ShippedItem,
    Source,
)
from gateway.erp.ship_notice import TRANSPORT_MODES
from gateway.errors import MappingError
from gateway.mapping.common import (
    address_of,
    address_segments,
    before,
    first,
    from_data,
    loops,
    optional,
    parse_date,
    parse_decimal,
    parse_time,
    product_id_elements,
    product_ids_from,
    require,
    segment,
    texts,
)
from gateway.x12 import Segment, Transaction

SET_ID = "856"
#: GS08 releases the 856 is mapped at.
RELEASES = ("004010", "005010")
#: BSN01, transaction set purpose (element 353): 00 original, 05 replace [I].
PURPOSE_CODES: dict[str, str] = {"original": "00", "replace": "05"}
#: BSN05, hierarchical structure code (element 1005): shipment, order, packaging, item.
STRUCTURE_CODE = "0001"
#: TD101, packaging code (element 103): corrugated carton, wooden pallet.
CARTON_PACKAGING = "CTN25"
PALLET_PACKAGING = "PLT94"
#: TD106 G: gross weight.
GROSS_WEIGHT = "G"
#: TD502 2: TD503 is a Standard Carrier Alpha Code.
SCAC_QUALIFIER = "2"
#: MAN01 GM: SSCC-18 with its application identifier (amazon-x12.md section 5).
SSCC_MARKS = "GM"

_PURPOSES = {code: purpose for purpose, code in PURPOSE_CODES.items()}
_MODES = {code: mode for mode, code in TRANSPORT_MODES.items()}
#: The parent level each HL03 code hangs from.
_PARENTS: dict[str, tuple[str, ...]] = {"S": (), "O": ("S",), "T": ("O",), "P": ("O", "T"),
                                        "I": ("P",)}  # fmt: skip
#: Segments this mapping reads at one level only; found at another, they cannot be mapped.
_OWNER: dict[str, tuple[str, ...]] = {"TD1": ("S",), "TD5": ("S",), "N1": ("S",), "PRF": ("O",),
                                      "MAN": ("T", "P"), "LIN": ("I",), "SN1": ("I",)}  # fmt: skip


# -- ERP -> X12 ------------------------------------------------------------------------------


def _bsn_time(issued_at: datetime) -> str:
    """BSN04 as HHMM, or HHMMSS when the export carries seconds (TM is 4-8 digits)."""
    return issued_at.strftime("%H%M%S" if issued_at.second else "%H%M")


def _shipment_segments(document: ShipNotice) -> list[Segment]:
    """TD1, TD5, REF, DTM and the N1 loops of the shipment level."""
    if document.gross_weight is not None:
        carton_td1 = segment("TD1", CARTON_PACKAGING, document.carton_count, None, None, None,
                             GROSS_WEIGHT, document.gross_weight, document.weight_unit)  # fmt: skip
    else:
        carton_td1 = segment("TD1", CARTON_PACKAGING, document.carton_count)
    out = [carton_td1]
    if document.pallet_count > 0:
        out.append(segment("TD1", PALLET_PACKAGING, document.pallet_count))
    carrier = document.carrier
    out.append(segment("TD5", None, SCAC_QUALIFIER, carrier.scac, TRANSPORT_MODES[carrier.mode]))
    for qualifier, value in (("BM", document.bill_of_lading), ("CN", document.pro_number),
                             ("AO", document.amazon_reference_number)):  # fmt: skip
        if value is not None:
            out.append(segment("REF", qualifier, value))
    out.append(segment("DTM", "011", document.ship_date))
    out.append(segment("DTM", "017", document.estimated_delivery))
    ship_to = document.ship_to
    out.append(segment("N1", "ST", ship_to.name, ship_to.qualifier, ship_to.code))
    out += address_segments("SF", document.ship_from)
    return out



def _item_segments(item: ShippedItem) -> list[Segment]:
    out = [
        segment("LIN", item.line_id, *product_id_elements(item.product_ids)),
        segment("SN1", None, item.quantity, item.unit),
    ]
    if item.lot_number is not None:
        out.append(segment("REF", "LT", item.lot_number))
    if item.expiration_date is not None:
        out.append(segment("DTM", "036", item.expiration_date))
    return out


def from_erp(document: ShipNotice, *, release: str = "004010") -> list[Segment]:
    """The segments between ST and SE of the 856 carrying ``document`` at ``release``
    (GS08 ``004010`` or ``005010``); MappingError for any other release."""
    if release not in RELEASES:
        raise MappingError(f"GS08 {release!r}: the 856 is mapped at {' and '.join(RELEASES)} only")
    body = [
        segment("BSN", PURPOSE_CODES[document.purpose], document.shipment_id,
                document.issued_at.date(), _bsn_time(document.issued_at), STRUCTURE_CODE),
    ]  # fmt: skip
    count = 0
    units = Decimal(0)

    def level(code: str, parent: str | None, has_children: bool, content: list[Segment]) -> str:
        """Append one HL (HL01 the next number, HL04 1 when it has children) and its content."""
        nonlocal count
        count += 1
        body.append(segment("HL", str(count), parent, code, "1" if has_children else "0"))
        body.extend(content)
        return str(count)

    def packs(cartons: list[Carton], parent: str) -> None:
        nonlocal units
        for carton in cartons:
            pack = level("P", parent, True, [segment("MAN", SSCC_MARKS, carton.sscc)])
            for item in carton.items:
                level("I", pack, False, _item_segments(item))
                units += item.quantity

    shipment = level("S", None, True, _shipment_segments(document))
    for order in document.orders:
        prf = segment("PRF", order.po_number, None, None, order.po_date)
        order_level = level("O", shipment, bool(order.pallets or order.cartons), [prf])
        for pallet in order.pallets:
            marks = [segment("MAN", SSCC_MARKS, pallet.sscc)] if pallet.sscc is not None else []
            packs(pallet.cartons, level("T", order_level, True, marks))
        packs(order.cartons, order_level)
    body.append(segment("CTT", count, units))
    return body


# -- X12 -> ERP ------------------------------------------------------------------------------


@dataclass
class _Level:
    """One HL while the tree is read: its code, id, content and children."""

    code: str
    number: str
    body: list[Segment]
    children: list[_Level] = field(default_factory=list)


def _fail(transaction: Transaction, message: str) -> MappingError:
    return MappingError(f"856 {transaction.control_number}: {message}")


def _count(text: str, where: str) -> int:
    """N0 -> int (a count of cartons or pallets)."""
    if not (text.isascii() and text.isdigit()):
        raise MappingError(f"{where} {text!r} is not a whole number")
    return int(text)


def _levels(transaction: Transaction) -> _Level:
    """The HL tree of the set, checked: known HL03 codes, parents that exist earlier and
    sit at the right level, one shipment at the root."""
    by_number: dict[str, _Level] = {}
    root: _Level | None = None
    for hl, body in loops(transaction.segments, "HL"):
        number, parent, code = hl.text(1), hl.text(2), hl.text(3)
        where = f"HL {number or '?'}"
        if not number:
            raise _fail(transaction, "HL01 (hierarchical id) is empty")
        if number in by_number:
            raise _fail(transaction, f"{where}: HL01 {number!r} is used twice")
        if code not in _PARENTS:
            raise _fail(transaction, f"{where}: HL03 {code!r} is not one of S, O, T, P, I")
        level = _Level(code, number, body)
        if code == "S":
            if root is not None or parent:
                raise _fail(transaction, f"{where}: HL03 S must be the one root level (no HL02)")
            root = level
        else:
            allowed = " or ".join(_PARENTS[code])
            up = by_number.get(parent)
            if not parent:
                raise _fail(transaction, f"{where}: HL02 is empty; a level {code} hangs from"
                                         f" {allowed}")  # fmt: skip
            if up is None:
                raise _fail(transaction, f"{where}: HL02 {parent!r} names no earlier HL")
            if up.code not in _PARENTS[code]:
                raise _fail(transaction, f"{where}: HL02 {parent!r} is a level {up.code}; a"
                                         f" level {code} hangs from {allowed}")  # fmt: skip
            up.children.append(level)
        for seg in body:
            owners = _OWNER.get(seg.tag)
            if owners is not None and code not in owners:
                raise _fail(transaction, f"{where} ({code}): {seg.tag} belongs to HL level"
                                         f" {' or '.join(owners)}")  # fmt: skip
        by_number[number] = level
    if root is None:
        raise _fail(transaction, "has no HL*S (shipment level)")
    return root


def _shipment_fields(level: _Level, transaction: Transaction) -> dict[str, Any]:
    """The ShipNotice fields carried by the shipment level."""
    head = before(level.body, "N1")
    fields: dict[str, Any] = {}
    for td1 in (s for s in head if s.tag == "TD1"):
        packaging = td1.text(1)
        if packaging == CARTON_PACKAGING:
            fields["carton_count"] = _count(td1.text(2), "TD102")
            weight = optional(td1, 7)
            if weight is not None:
                if td1.text(6) != GROSS_WEIGHT:
                    raise _fail(transaction, f"TD106 {td1.text(6)!r}: only G (gross) is mapped")
                fields["gross_weight"] = parse_decimal(weight, "TD107")
                fields["weight_unit"] = td1.text(8)
        elif packaging == PALLET_PACKAGING:
            fields["pallet_count"] = _count(td1.text(2), "TD102")
        else:
            raise _fail(transaction, f"TD101 {packaging!r}: expected {CARTON_PACKAGING} or"
                                     f" {PALLET_PACKAGING}")  # fmt: skip
    if "carton_count" not in fields:
        raise _fail(transaction, f"has no TD1*{CARTON_PACKAGING} (carton count)")
    td5 = require(first(head, "TD5"), "TD5 (carrier)", transaction)
    if td5.text(2) != SCAC_QUALIFIER:
        raise _fail(transaction, f"TD502 {td5.text(2)!r}: expected 2 (TD503 is a SCAC)")
    mode = _MODES.get(td5.text(4))
    if mode is None:
        raise _fail(transaction, f"TD504 {td5.text(4)!r} is not a mapped transport mode")
    fields["carrier"] = {"scac": td5.text(3), "mode": mode}
    for qualifier, name in (("BM", "bill_of_lading"), ("CN", "pro_number"),
                            ("AO", "amazon_reference_number")):  # fmt: skip
        ref = first(head, "REF", qualifier)
        if ref is not None:
            fields[name] = ref.text(2)
    for qualifier, name in (("011", "ship_date"), ("017", "estimated_delivery")):
        dtm = require(first(head, "DTM", qualifier), f"DTM*{qualifier}", transaction)
        fields[name] = parse_date(dtm.text(2), f"DTM*{qualifier} DTM02")
    parties = {n1.text(1): (n1, rest) for n1, rest in loops(level.body, "N1")}
    if "ST" not in parties:
        raise _fail(transaction, "has no N1*ST (ship-to)")
    if "SF" not in parties:
        raise _fail(transaction, "has no N1*SF (ship-from)")
    ship_to = parties["ST"][0]
    fields["ship_to"] = _present(qualifier=ship_to.text(3), code=ship_to.text(4),
                                 name=optional(ship_to, 2))  # fmt: skip
    fields["ship_from"] = address_of(*parties["SF"])
    return fields


def _present(**values: Any) -> dict[str, Any]:
    """The values that are not None (absent X12 elements are absent JSON fields)."""
    return {k: v for k, v in values.items() if v is not None}



def _sscc(level: _Level) -> str | None:
    man = first(level.body, "MAN", SSCC_MARKS)
    return man.text(2) if man is not None else None


def _item(level: _Level, transaction: Transaction) -> dict[str, Any]:
    where = f"HL {level.number}"
    lin = require(first(level.body, "LIN"), f"LIN at {where}", transaction)
    sn1 = require(first(level.body, "SN1"), f"SN1 at {where}", transaction)
    if not lin.text(1):
        raise _fail(transaction, f"{where}: LIN01 (PO line id) is empty")
    ids = product_ids_from(texts(lin, 2, max(len(lin.elements), 3)), f"{where} LIN")
    if not ids:
        raise _fail(transaction, f"{where}: LIN02/LIN03 (product id) are empty")
    lot = first(level.body, "REF", "LT")
    expiry = first(level.body, "DTM", "036")
    return _present(
        line_id=lin.text(1), product_ids=ids,
        quantity=parse_decimal(sn1.text(2), f"{where} SN102"), unit=sn1.text(3),
        lot_number=lot.text(2) if lot is not None else None,
        expiration_date=(parse_date(expiry.text(2), f"{where} DTM*036 DTM02")
                         if expiry is not None else None),
    )  # fmt: skip


def _carton(level: _Level, transaction: Transaction) -> dict[str, Any]:
    sscc = _sscc(level)
    if sscc is None:
        raise _fail(transaction, f"HL {level.number} (P): no MAN*GM (the carton's SSCC)")
    if not level.children:
        raise _fail(transaction, f"HL {level.number} (P): the carton has no HL I (items)")
    return {"sscc": sscc, "items": [_item(child, transaction) for child in level.children]}


def _order(level: _Level, transaction: Transaction) -> dict[str, Any]:
    prf = require(first(level.body, "PRF"), f"PRF at HL {level.number}", transaction)
    po_date = optional(prf, 4)
    pallets: list[dict[str, Any]] = []
    cartons: list[dict[str, Any]] = []
    for child in level.children:
        if child.code == "T":
            if not child.children:
                raise _fail(transaction, f"HL {child.number} (T): the pallet has no HL P")
            packs = [_carton(c, transaction) for c in child.children]
            pallets.append(_present(sscc=_sscc(child), cartons=packs))
        else:
            cartons.append(_carton(child, transaction))
    return _present(
        po_number=prf.text(1),
        po_date=parse_date(po_date, f"HL {level.number} PRF04") if po_date else None,
        pallets=pallets, cartons=cartons,
    )  # fmt: skip


def to_erp(transaction: Transaction, source: Source | None = None) -> ShipNotice:
    """The ShipNotice an 856 carries (``source`` is not part of a ShipNotice).

    Raises MappingError naming the element or HL level when the set cannot be read as one
    shipment > order > (pallet) > carton > item tree, or, with the JSON path, when a value
    does not fit the ShipNotice (e.g. an unknown unit or weight unit).
    """
    bsn = require(first(transaction.segments, "BSN"), "BSN", transaction)
    purpose = _PURPOSES.get(bsn.text(1))
    if purpose is None:
        raise _fail(transaction, f"BSN01 {bsn.text(1)!r}: expected 00 (original) or 05 (replace)")
    issued_at = datetime.combine(parse_date(bsn.text(3), "BSN03"), parse_time(bsn.text(4), "BSN04"))
    root = _levels(transaction)
    data = {
        "shipment_id": bsn.text(2), "purpose": purpose, "issued_at": issued_at,
        **_shipment_fields(root, transaction),
        "orders": [_order(child, transaction) for child in root.children],
    }  # fmt: skip
    return from_data(ShipNotice, data, f"856 {transaction.control_number}")


__all__ = ["RELEASES", "SET_ID", "from_erp", "to_erp"]
