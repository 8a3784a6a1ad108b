"""``Invoice``: what the ERP exports for an 810 (amazon-x12.md section 6).

``total`` is stated by the ERP and checked, to the cent, against
items + charges - allowances + tax (rules); TDS01 carries it in cents.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from gateway.erp.common import Address, Location, ProductLine
from gateway.erp.types import (
    MODEL_CONFIG,
    Cents,
    Currency,
    Money,
    Text,
)


class PaymentTerms(BaseModel):
    """ITD: the terms agreed with the Amazon buyer."""

    model_config = MODEL_CONFIG
    type_code: str = Field(default="01", pattern=r"^[0-9]{2}$", description="ITD01, 01 basic")
    basis_date_code: str = Field(default="3", pattern=r"^[0-9A-Z]{1,2}$",
                                 description="ITD02, 3 invoice date")  # fmt: skip
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=3)
    discount_days: int | None = Field(default=None, ge=0, le=999)
    net_days: int | None = Field(default=None, ge=0, le=999)
    description: Text(80) | None = None  # type: ignore[valid-type]


class InvoiceLine(ProductLine):
    """IT1: a line invoiced, echoing the PO line id and identifiers."""


class ChargeOrAllowance(BaseModel):
    """SAC at header level: a charge (freight, packaging...) or an allowance (discount)."""

    model_config = MODEL_CONFIG
    kind: Literal["charge", "allowance"]
    code: str = Field(pattern=r"^[A-Z0-9]{4}$", description="SAC02, e.g. D240 freight")
    amount: Cents
    description: Text(80) | None = None  # type: ignore[valid-type]


class Tax(BaseModel):
    """TXI at header level."""

    model_config = MODEL_CONFIG
    type_code: str = Field(pattern=r"^[A-Z0-9]{2}$", description="TXI01, e.g. ST sales tax")
    amount: Money
    percent: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=4)


class Invoice(BaseModel):
    """An invoice (810)."""

    model_config = MODEL_CONFIG
    type: Literal["invoice"] = "invoice"
    version: Literal[1] = 1
    invoice_number: Text(22)  # type: ignore[valid-type]
    invoice_date: date
    po_number: Text(22)  # type: ignore[valid-type]
    po_date: date
    ship_date: date | None = Field(default=None, description="DTM*011, shipped")
    vendor_code: Text(30) | None = None  # type: ignore[valid-type]
    currency: Currency = "USD"
    bill_to: Address
    remit_to: Address
    ship_from: Address
    ship_to: Location | None = None
    terms: PaymentTerms
    lines: list[InvoiceLine] = Field(min_length=1)
    charges: list[ChargeOrAllowance] = Field(default_factory=list, max_length=25)
    taxes: list[Tax] = Field(default_factory=list, max_length=10)
    total: Cents
