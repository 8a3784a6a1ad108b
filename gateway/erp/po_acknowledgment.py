"""``PoAcknowledgment``: what the ERP exports to answer a PO with an 855 (amazon-x12.md §4).

Every PO line is acknowledged with one or more statuses (accepted, backordered, rejected),
each with its quantity; the unit cost is stated on every line (Amazon pays the invoice at
the acknowledged cost).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from gateway.erp.common import Location, ProductId
from gateway.erp.types import MODEL_CONFIG, Money, PriceBasis, Quantity, Text, UnitOfMeasure

#: Line status -> ACK01 (element 668). Amazon retail uses IA, IB and IR.
LINE_STATUS_CODES: dict[str, str] = {"accepted": "IA", "backordered": "IB", "rejected": "IR"}
#: Amazon's rejection reasons (SP-API names), carried in ACK27 ``ZZ`` (mutually defined
#: agency) and ACK29 [I]; ACK28 stays empty (the 855 map's C2827 rule).
REJECTION_REASONS: dict[str, str] = {
    "temporarily_unavailable": "TemporarilyUnavailable",
    "invalid_product_identifier": "InvalidProductIdentifier",
    "obsolete_product": "ObsoleteProduct",
}
#: Scheduled date qualifiers (ACK04, element 374): ship or delivery date.
DATE_QUALIFIERS: dict[str, str] = {"ship": "068", "delivery": "067"}


class LineStatus(BaseModel):
    """One ACK loop: a status for part (or all) of a line's quantity."""

    model_config = MODEL_CONFIG
    status: Literal["accepted", "backordered", "rejected"]
    quantity: Quantity
    unit: UnitOfMeasure
    scheduled_date: date | None = None
    scheduled_date_kind: Literal["ship", "delivery"] = "ship"
    rejection_reason: (
        Literal["temporarily_unavailable", "invalid_product_identifier", "obsolete_product"]
        | None
    ) = None

    @model_validator(mode="after")
    def _consistent(self) -> LineStatus:
        # ACK04/ACK05 are paired: a date kind without a date has no X12 form (the rules
        # check that a rejection reason sits on a rejection).
        if self.scheduled_date is None and self.scheduled_date_kind != "ship":
            raise ValueError("scheduled_date_kind needs a scheduled_date")
        return self


class AcknowledgedLine(BaseModel):
    """One PO line as acknowledged: the PO's line id and identifiers, echoed, and statuses."""

    model_config = MODEL_CONFIG
    line_id: Text(20)  # type: ignore[valid-type]
    ordered_quantity: Quantity
    unit: UnitOfMeasure
    unit_cost: Money
    price_basis: PriceBasis | None = None
    product_ids: list[ProductId] = Field(min_length=1, max_length=10)
    statuses: list[LineStatus] = Field(min_length=1, max_length=104)


class PoAcknowledgment(BaseModel):
    """A PO acknowledgment (855). BAK02 is derived: ``AD`` when every line is accepted in
    full, ``AC`` otherwise."""

    model_config = MODEL_CONFIG
    type: Literal["po_acknowledgment"] = "po_acknowledgment"
    version: Literal[1] = 1
    po_number: Text(22)  # type: ignore[valid-type]
    po_date: date
    seller_order_number: Text(30) | None = None  # type: ignore[valid-type]
    ship_to: Location | None = None
    lines: list[AcknowledgedLine] = Field(min_length=1)
