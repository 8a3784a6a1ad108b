"""Parts shared by several ERP documents: product identifiers, parties, where a document came
from, and the problem record used for every JSON-path finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from gateway.erp.types import (
    MODEL_CONFIG,
    Money,
    PriceBasis,
    Quantity,
    Text,
    UnitOfMeasure,
)

#: Product identifier kinds and their X12 qualifiers (element 235). Amazon sends the
#: kinds its vendor chose in the EDI survey; the gateway echoes them exactly.
PRODUCT_ID_QUALIFIERS: dict[str, str] = {
    "upc": "UP",  # U.P.C. consumer package code (GTIN-12)
    "ean": "EN",  # EAN/UCC-13 (GTIN-13)
    "gtin14": "UK",  # U.P.C./EAN shipping container code (GTIN-14)
    "upc_case": "UA",  # U.P.C./EAN case code
    "upc_consumer": "UI",  # U.P.C. consumer package code (1-5-5)
    "ean_case": "EO",
    "isbn": "IB",  # ISBN-10 or ISBN-13
    "asin": "BP",  # buyer's part number: Amazon's ASIN
    "vendor_item": "VN",  # vendor's (seller's) item number: the vendor SKU
    "vendor_part": "VP",
    "vendor_style": "VA",
    "vendor_catalog": "VC",
    "sku": "SK",
    "buyer_catalog": "CB",
}
PRODUCT_ID_KINDS: dict[str, str] = {q: k for k, q in PRODUCT_ID_QUALIFIERS.items()}

ProductIdKind = Literal[
    "upc", "ean", "gtin14", "upc_case", "upc_consumer", "ean_case", "isbn", "asin",
    "vendor_item", "vendor_part", "vendor_style", "vendor_catalog", "sku", "buyer_catalog",
]  # fmt: skip


class ProductId(BaseModel):
    """One product identifier: its kind (X12 qualifier) and value (element 234, 1-48)."""

    model_config = MODEL_CONFIG
    kind: ProductIdKind
    value: Text(48)  # type: ignore[valid-type]


class Location(BaseModel):
    """A location known by code, e.g. an Amazon fulfilment centre ``N1*ST**92*RIC2``.

    ``qualifier`` is N103 (element 66): ``92`` assigned by buyer, ``15`` SAN, ``1`` DUNS,
    ``9`` DUNS+4, ``UL`` GLN, ``ZZ`` mutually defined.
    """

    model_config = MODEL_CONFIG
    qualifier: Literal["92", "15", "1", "9", "91", "UL", "ZZ"] = "92"
    code: Text(80, min_length=2)  # type: ignore[valid-type]
    name: Text(60) | None = None  # type: ignore[valid-type]


class Address(BaseModel):
    """A party with its postal address (N1 / N3 / N4)."""

    model_config = MODEL_CONFIG
    name: Text(60)  # type: ignore[valid-type]
    id_qualifier: Literal["92", "15", "1", "9", "91", "UL", "ZZ"] | None = None
    id: Text(80, min_length=2) | None = None  # type: ignore[valid-type]
    street: list[Text(55)] = Field(default_factory=list, max_length=2)  # type: ignore[valid-type]
    city: Text(30, min_length=2) | None = None  # type: ignore[valid-type]
    state: Text(2, min_length=2) | None = None  # type: ignore[valid-type]
    postal_code: Text(15, min_length=3) | None = None  # type: ignore[valid-type]
    country: Text(3, min_length=2) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _id_with_its_qualifier(self) -> Address:
        # N103 and N104 are paired (X12 N1 syntax note P0304).
        if (self.id is None) != (self.id_qualifier is None):
            raise ValueError("id and id_qualifier go together")
        return self


class Source(BaseModel):
    """Where an inbound document came from: partner, envelope control numbers, arrival."""

    model_config = MODEL_CONFIG
    partner: str | None = Field(default=None, max_length=64)
    sender: str = Field(max_length=20, description="ISA05:ISA06, e.g. ZZ:AMAZON")
    interchange_control_number: str = Field(max_length=9, description="ISA13")
    group_control_number: str = Field(max_length=9, description="GS06")
    transaction_control_number: str = Field(max_length=9, description="ST02")
    received_at: datetime | None = None


class ProductLine(BaseModel):
    """What a PO line and an invoice line share (PO1 / IT1): the PO's line id (PO101, echoed
    in every answer), quantity, unit, unit price and basis, and the product identifiers."""

    model_config = MODEL_CONFIG
    line_id: Text(20)  # type: ignore[valid-type]
    quantity: Quantity
    unit: UnitOfMeasure
    unit_price: Money
    price_basis: PriceBasis | None = None
    product_ids: list[ProductId] = Field(min_length=1, max_length=10)


@dataclass(frozen=True)
class Problem:
    """A problem in an ERP document, located by JSON path (``$.lines[2].quantity``).

    ``code`` names the rule (``check_digit``, ``total_mismatch``, ``schema``...);
    ``severity`` is ``error`` (the document is refused) or ``warning``.
    """

    path: str
    message: str
    code: str = "schema"
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(location: tuple[str | int, ...]) -> str:
    """A pydantic error location as a JSON path: ``("lines", 2, "qty")`` -> ``$.lines[2].qty``."""
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
