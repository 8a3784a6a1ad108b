"""The ERP documents: pydantic models of the JSON the ERP reads and writes.

The ERP never sees X12. Each document has a ``type`` discriminator and a schema
``version``; unknown fields are refused; money and quantities are Decimal. Their JSON
Schemas in ``schemas/`` are the contract ERP integrators build against.
"""

from gateway.erp.common import (
    PRODUCT_ID_KINDS,
    PRODUCT_ID_QUALIFIERS,
    Address,
    Location,
    Problem,
    ProductId,
    Source,
    json_path,
)
from gateway.erp.document import (
    DOCUMENT_TYPES,
    SET_OF_DOCUMENT,
    ErpDocument,
    document_json,
    json_schema,
    parse_document,
    problems_of,
)
from gateway.erp.functional_ack import (
    AcknowledgedSet,
    ElementError,
    FunctionalAck,
    SegmentError,
)
from gateway.erp.inventory_advice import InventoryAdvice, InventoryItem
from gateway.erp.invoice import ChargeOrAllowance, Invoice, InvoiceLine, PaymentTerms, Tax
from gateway.erp.po_acknowledgment import AcknowledgedLine, LineStatus, PoAcknowledgment
from gateway.erp.purchase_order import (
    FreightTerms,
    PurchaseOrder,
    PurchaseOrderLine,
    ShipWindow,
)
from gateway.erp.ship_notice import (
    Carrier,
    Carton,
    Pallet,
    ShipNotice,
    ShippedItem,
    ShippedOrder,
)

__all__ = [
    "DOCUMENT_TYPES",
    "PRODUCT_ID_KINDS",
    "PRODUCT_ID_QUALIFIERS",
    "SET_OF_DOCUMENT",
    "AcknowledgedLine",
    "AcknowledgedSet",
    "Address",
    "Carrier",
    "Carton",
    "ChargeOrAllowance",
    "ElementError",
    "ErpDocument",
    "FreightTerms",
    "FunctionalAck",
    "InventoryAdvice",
    "InventoryItem",
    "Invoice",
    "InvoiceLine",
    "LineStatus",
    "Location",
    "Pallet",
    "PaymentTerms",
    "PoAcknowledgment",
    "Problem",
    "ProductId",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "SegmentError",
    "ShipNotice",
    "ShipWindow",
    "ShippedItem",
    "ShippedOrder",
    "Source",
    "Tax",
    "document_json",
    "json_path",
    "json_schema",
    "parse_document",
    "problems_of",
]
