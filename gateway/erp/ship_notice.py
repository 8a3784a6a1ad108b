"""``ShipNotice``: what the ERP exports for an 856 ASN (amazon-x12.md section 5).

Structure: a shipment holds orders (PO numbers); an order holds cartons, directly or on
pallets; a carton (SSCC mandatory) holds items. The 856 HL hierarchy is derived from it:
shipment > order > (tare) > pack > item.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from gateway.erp.common import Address, Location, ProductId
from gateway.erp.types import MODEL_CONFIG, Quantity, Scac, Sscc, Text, UnitOfMeasure

#: Transportation method (TD504, element 91).
TRANSPORT_MODES: dict[str, str] = {
    "motor": "M",  # motor (common carrier), TL and LTL
    "ltl": "LT",
    "parcel": "U",  # private parcel service
    "air": "A",
    "ocean": "S",
    "rail": "R",
    "private": "P",
    "customer_pickup": "H",
}


class Carrier(BaseModel):
    """TD5: the carrier's SCAC (mandatory in North America) and the transport mode."""

    model_config = MODEL_CONFIG
    scac: Scac
    mode: Literal["motor", "ltl", "parcel", "air", "ocean", "rail", "private", "customer_pickup"]


class ShippedItem(BaseModel):
    """HL I: one PO line's quantity in a carton (LIN + SN1, lot and expiry when needed)."""

    model_config = MODEL_CONFIG
    line_id: Text(20)  # type: ignore[valid-type]
    product_ids: list[ProductId] = Field(min_length=1, max_length=15)
    quantity: Quantity
    unit: UnitOfMeasure
    lot_number: Text(30) | None = None  # type: ignore[valid-type]
    expiration_date: date | None = None


class Carton(BaseModel):
    """HL P: a carton with its SSCC label (MAN*GM) and items."""

    model_config = MODEL_CONFIG
    sscc: Sscc
    items: list[ShippedItem] = Field(min_length=1)


class Pallet(BaseModel):
    """HL T: a pallet (tare) with an optional SSCC and its cartons."""

    model_config = MODEL_CONFIG
    sscc: Sscc | None = None
    cartons: list[Carton] = Field(min_length=1)


class ShippedOrder(BaseModel):
    """HL O: one purchase order in the shipment (PRF)."""

    model_config = MODEL_CONFIG
    po_number: Text(22)  # type: ignore[valid-type]
    po_date: date | None = None
    pallets: list[Pallet] = Field(default_factory=list)
    cartons: list[Carton] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ships_something(self) -> ShippedOrder:
        if not self.pallets and not self.cartons:
            raise ValueError("an order ships at least one carton (on a pallet or loose)")
        return self


class ShipNotice(BaseModel):
    """A ship notice (ASN, 856)."""

    model_config = MODEL_CONFIG
    type: Literal["ship_notice"] = "ship_notice"
    version: Literal[1] = 1
    shipment_id: Text(30, min_length=2)  # type: ignore[valid-type]
    purpose: Literal["original", "replace"] = "original"
    issued_at: datetime
    ship_date: date
    estimated_delivery: date
    carrier: Carrier
    pro_number: Text(30) | None = None  # type: ignore[valid-type]
    bill_of_lading: Text(30) | None = None  # type: ignore[valid-type]
    amazon_reference_number: Text(30) | None = None  # type: ignore[valid-type]
    ship_from: Address
    ship_to: Location
    carton_count: int = Field(ge=0, le=9_999_999, description="TD102 (N0, 1-7 digits)")
    pallet_count: int = Field(default=0, ge=0, le=9_999_999, description="TD102 of PLT94")
    gross_weight: Quantity | None = None
    weight_unit: Literal["LB", "KG"] = "LB"
    orders: list[ShippedOrder] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ShipNotice:
        # BSN03/BSN04 carry a local date and time: an offset would be lost.
        if self.issued_at.tzinfo is not None:
            raise ValueError("issued_at is the local date and time, without a time zone")
        # TD108 goes with TD107: a unit without a weight has no X12 form.
        if self.gross_weight is None and self.weight_unit != "LB":
            raise ValueError("weight_unit needs gross_weight")
        return self
