"""``PurchaseOrder``: what the ERP receives for each Amazon 850 (amazon-x12.md section 3)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from gateway.erp.common import Location, ProductLine, Source
from gateway.erp.types import (
    MODEL_CONFIG,
    Currency,
    Money,
    Text,
)

#: BEG02 purchase order type code -> order type. Amazon uses only these four.
ORDER_TYPES: dict[str, str] = {"NE": "new", "CN": "consigned", "NP": "new_product", "RO": "rush"}
#: FOB01 shipment method of payment (element 146) -> freight payment.
FREIGHT_PAYMENTS: dict[str, str] = {
    "CC": "collect",
    "PP": "prepaid",
    "BP": "paid_by_buyer",
    "PS": "paid_by_seller",
    "DF": "defined_by_buyer_and_seller",
    "FO": "fob_port_of_call",
}


class ShipWindow(BaseModel):
    """DTM*064 (do not deliver before) and DTM*063 (do not deliver after)."""

    model_config = MODEL_CONFIG
    not_before: date
    not_after: date


class FreightTerms(BaseModel):
    """FOB: who pays the freight (FOB01) and the Incoterms (FOB02 ``01`` + FOB03)."""

    model_config = MODEL_CONFIG
    payment: Literal[
        "collect", "prepaid", "paid_by_buyer", "paid_by_seller",
        "defined_by_buyer_and_seller", "fob_port_of_call",
    ]  # fmt: skip
    incoterms: Text(3, min_length=3) | None = None  # type: ignore[valid-type]


class PurchaseOrderLine(ProductLine):
    """One PO1 line with its CTP list price and PID description."""

    description: Text(80) | None = None  # type: ignore[valid-type]
    list_price: Money | None = None


class PurchaseOrder(BaseModel):
    """An Amazon purchase order, as the ERP reads it."""

    model_config = MODEL_CONFIG
    type: Literal["purchase_order"] = "purchase_order"
    version: Literal[1] = 1
    po_number: Text(22)  # type: ignore[valid-type]
    order_type: Literal["new", "consigned", "new_product", "rush"]
    po_date: date
    # Amazon always sends REF*CR; optional here so that an order without it still reaches
    # the ERP (the rules flag it) rather than being lost in mapping.
    vendor_code: Text(30) | None = None  # type: ignore[valid-type]
    promotion_number: Text(30) | None = None  # type: ignore[valid-type]
    ship_window: ShipWindow
    back_order_allowed: bool
    ship_to: Location
    freight: FreightTerms | None = None
    currency: Currency | None = None
    lines: list[PurchaseOrderLine] = Field(min_length=1)
    source: Source | None = None
