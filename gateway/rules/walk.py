"""Where things are in a document: the cartons, items and product identifier lists of the ERP
documents, each with its JSON path, so every rule reports the same paths."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.erp import Carton, ProductId, ShipNotice, ShippedItem


@dataclass(frozen=True)
class PlacedCarton:
    """A carton of a ship notice, the index of its order and its JSON path
    (``$.orders[0].cartons[1]`` or ``$.orders[0].pallets[0].cartons[1]``)."""

    order_index: int
    path: str
    carton: Carton


@dataclass(frozen=True)
class PlacedItem:
    """A shipped item, the index of its order and its JSON path."""

    order_index: int
    path: str
    item: ShippedItem


def cartons(notice: ShipNotice) -> Iterator[PlacedCarton]:
    """Every carton of ``notice`` in document order: per order, the cartons on pallets
    first (pallet by pallet), then the loose cartons."""
    for o, order in enumerate(notice.orders):
        for p, pallet in enumerate(order.pallets):
            for c, carton in enumerate(pallet.cartons):
                yield PlacedCarton(o, f"$.orders[{o}].pallets[{p}].cartons[{c}]", carton)
        for c, carton in enumerate(order.cartons):
            yield PlacedCarton(o, f"$.orders[{o}].cartons[{c}]", carton)


def items(notice: ShipNotice) -> Iterator[PlacedItem]:
    """Every shipped item of ``notice``, in the order of :func:`cartons`."""
    for placed in cartons(notice):
        for i, item in enumerate(placed.carton.items):
            yield PlacedItem(placed.order_index, f"{placed.path}.items[{i}]", item)


@dataclass(frozen=True)
class PlacedIds:
    """A list of product identifiers, the line id it belongs to (``None`` when the
    document has no line ids, as in an inventory advice), and its JSON path."""

    path: str
    line_id: str | None
    product_ids: Sequence[ProductId]
    order_index: int | None = None


def product_id_lists(document: Any) -> Iterator[PlacedIds]:
    """Every ``product_ids`` list of an ERP document with its JSON path.

    Purchase orders, acknowledgments and invoices have them on ``lines``; ship notices on
    every item; inventory advices on ``items``; a functional acknowledgment has none.
    """
    kind = getattr(document, "type", None)
    if kind in ("purchase_order", "po_acknowledgment", "invoice"):
        for i, line in enumerate(document.lines):
            yield PlacedIds(f"$.lines[{i}].product_ids", line.line_id, line.product_ids)
    elif kind == "ship_notice":
        for placed in items(document):
            yield PlacedIds(
                f"{placed.path}.product_ids",
                placed.item.line_id,
                placed.item.product_ids,
                placed.order_index,
            )
    elif kind == "inventory_advice":
        for i, item in enumerate(document.items):
            yield PlacedIds(f"$.items[{i}].product_ids", None, item.product_ids)
