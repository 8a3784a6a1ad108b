"""846 Inventory Inquiry/Advice <-> :class:`~gateway.erp.InventoryAdvice` (amazon-x12.md
section 8), X12 004010 only.

Layout (``maps/846.4010.xml``)::

    BIA*<00|05>*<report type>*<advice number>*<CCYYMMDD>
    N1*SF*<name>*<qualifier>*<warehouse code>      the vendor's warehouse
    LIN**<product id pairs>                        per item (LIN01 unused)
      CTP**NET*<unit cost>                         when the export has a cost
      QTY*33*<available>*<unit>                    quantity available for sale
      QTY*17*<on hand>*<unit>                      when the export has it
    CTT*<number of LIN>

The warehouse is the ship-from party: Amazon's Direct Fulfillment 846 identifies the
vendor warehouse with ``N1*SF`` and a ``92`` (assigned by buyer) code [D:S5-846] [I]. On
reading, ``N1*WH`` (warehouse) is accepted as the same party. Segments the
InventoryAdvice does not carry (CUR, DTM, SCH...) are not read.
"""

from __future__ import annotations

from typing import Any

from gateway.erp import InventoryAdvice, Source
from gateway.errors import MappingError
from gateway.mapping.common import (
    before,
    first,
    from_data,
    loops,
    optional,
    parse_date,
    parse_decimal,
    parse_money,
    product_id_elements,
    product_ids_from,
    require,
    segment,
    texts,
)
from gateway.x12 import Segment, Transaction

SET_ID = "846"
#: GS08 release the 846 is mapped at (Amazon trades it at 004010 only).
RELEASE = "004010"
#: BIA01, transaction set purpose (element 353).
PURPOSE_CODES: dict[str, str] = {"original": "00", "replace": "05"}
#: N101 written for the warehouse, and the ones read as the warehouse.
WAREHOUSE_ENTITY = "SF"
WAREHOUSE_ENTITIES = ("SF", "WH")
#: QTY01 (element 673): 33 quantity available for sale, 17 quantity on hand.
AVAILABLE = "33"
ON_HAND = "17"
#: CTP02 (element 236): NET, the net unit cost.
NET_PRICE = "NET"

_PURPOSES = {code: purpose for purpose, code in PURPOSE_CODES.items()}


def from_erp(document: InventoryAdvice, *, release: str = RELEASE) -> list[Segment]:
    """The segments between ST and SE of the 846 carrying ``document``; MappingError for a
    release other than 004010."""
    if release != RELEASE:
        raise MappingError(f"GS08 {release!r}: the 846 is mapped at {RELEASE} only")
    warehouse = document.warehouse
    body = [
        segment("BIA", PURPOSE_CODES[document.purpose], document.report_type,
                document.advice_number, document.advice_date),
        segment("N1", WAREHOUSE_ENTITY, warehouse.name, warehouse.qualifier, warehouse.code),
    ]  # fmt: skip
    for item in document.items:
        body.append(segment("LIN", None, *product_id_elements(item.product_ids)))
        if item.unit_cost is not None:
            body.append(segment("CTP", None, NET_PRICE, item.unit_cost))
        body.append(segment("QTY", AVAILABLE, item.quantity_available, item.unit))
        if item.quantity_on_hand is not None:
            body.append(segment("QTY", ON_HAND, item.quantity_on_hand, item.unit))
    body.append(segment("CTT", len(document.items)))
    return body


def _fail(transaction: Transaction, message: str) -> MappingError:
    return MappingError(f"846 {transaction.control_number}: {message}")


def _item(
    number: int, lin: Segment, rest: list[Segment], transaction: Transaction
) -> dict[str, Any]:
    """One InventoryItem (as data) from LIN number ``number`` (1-based) and its loop."""
    where = f"LIN {number}"
    ids = product_ids_from(texts(lin, 2, max(len(lin.elements), 3)), f"{where}")
    if not ids:
        raise _fail(transaction, f"{where}: LIN02/LIN03 (product id) are empty")
    item: dict[str, Any] = {"product_ids": ids}
    quantities = [s for s in rest if s.tag == "QTY"]
    available = first(quantities, "QTY", AVAILABLE)
    if available is None:
        raise _fail(transaction, f"{where}: no QTY*{AVAILABLE} (quantity available)")
    item["quantity_available"] = parse_decimal(available.text(2), f"{where} QTY*33 QTY02")
    item["unit"] = available.text(3)
    if not item["unit"]:
        raise _fail(transaction, f"{where}: QTY*33 QTY03 (unit of measure) is empty")
    on_hand = first(quantities, "QTY", ON_HAND)
    if on_hand is not None:
        item["quantity_on_hand"] = parse_decimal(on_hand.text(2), f"{where} QTY*17 QTY02")
        if on_hand.text(3) != item["unit"]:
            raise _fail(
                transaction,
                f"{where}: QTY*17 QTY03 {on_hand.text(3)!r} differs from QTY*33 QTY03"
                f" {item['unit']!r} (one unit per item)",
            )
    cost = next((s for s in rest if s.tag == "CTP" and s.text(2) == NET_PRICE), None)
    if cost is not None:
        item["unit_cost"] = parse_money(cost.text(3), f"{where} CTP*NET CTP03")
    return item


def to_erp(transaction: Transaction, source: Source | None = None) -> InventoryAdvice:
    """The InventoryAdvice an 846 carries (``source`` is not part of an InventoryAdvice).

    Raises MappingError naming the element when the set has no BIA, no warehouse N1, an
    item without QTY*33, or a value that does not fit the InventoryAdvice (JSON path).
    """
    bia = require(first(transaction.segments, "BIA"), "BIA", transaction)
    purpose = _PURPOSES.get(bia.text(1))
    if purpose is None:
        raise _fail(transaction, f"BIA01 {bia.text(1)!r}: expected 00 (original) or 05 (replace)")
    heading = before(transaction.segments, "LIN")
    n1 = next((s for s in heading if s.tag == "N1" and s.text(1) in WAREHOUSE_ENTITIES), None)
    if n1 is None:
        raise _fail(transaction, "has no N1*SF or N1*WH (the warehouse) before the first LIN")
    if not n1.text(4):
        raise _fail(transaction, "N104 (the warehouse code) is empty")
    warehouse = {"qualifier": n1.text(3), "code": n1.text(4)}
    if optional(n1, 2) is not None:
        warehouse["name"] = n1.text(2)
    items = [
        _item(number, lin, rest, transaction)
        for number, (lin, rest) in enumerate(loops(transaction.segments, "LIN"), 1)
    ]
    data = {
        "advice_number": bia.text(3),
        "advice_date": parse_date(bia.text(4), "BIA04"),
        "purpose": purpose,
        "report_type": bia.text(2),
        "warehouse": warehouse,
        "items": items,
    }
    return from_data(InventoryAdvice, data, f"846 {transaction.control_number}")


__all__ = ["RELEASE", "SET_ID", "from_erp", "to_erp"]
