"""``InventoryAdvice``: what the ERP exports for an 846 (amazon-x12.md section 8)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from gateway.erp.common import Location, ProductId
from gateway.erp.types import MODEL_CONFIG, Money, Quantity, Text, UnitOfMeasure


class InventoryItem(BaseModel):
    """LIN + QTY: stock of one product at the warehouse."""

    model_config = MODEL_CONFIG
    product_ids: list[ProductId] = Field(min_length=1, max_length=15)
    quantity_available: Quantity = Field(description="QTY*33, available for sale")
    quantity_on_hand: Quantity | None = Field(default=None, description="QTY*17")
    unit: UnitOfMeasure
    unit_cost: Money | None = Field(default=None, description="CTP**NET")


class InventoryAdvice(BaseModel):
    """An inventory inquiry/advice (846)."""

    model_config = MODEL_CONFIG
    type: Literal["inventory_advice"] = "inventory_advice"
    version: Literal[1] = 1
    advice_number: Text(30)  # type: ignore[valid-type]
    advice_date: date
    purpose: Literal["original", "replace"] = "original"
    report_type: str = Field(default="DD", pattern=r"^[A-Z0-9]{2}$", description="BIA02")
    warehouse: Location
    items: list[InventoryItem] = Field(min_length=1)
