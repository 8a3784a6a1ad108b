"""Any ERP document, told apart by its ``type``, read from JSON with problems by JSON path."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from gateway.erp.common import Problem, json_path
from gateway.erp.functional_ack import FunctionalAck
from gateway.erp.inventory_advice import InventoryAdvice
from gateway.erp.invoice import Invoice
from gateway.erp.po_acknowledgment import PoAcknowledgment
from gateway.erp.purchase_order import PurchaseOrder
from gateway.erp.ship_notice import ShipNotice
from gateway.errors import ErpDocumentError

ErpDocument = Annotated[
    PurchaseOrder | PoAcknowledgment | ShipNotice | Invoice | InventoryAdvice | FunctionalAck,
    Field(discriminator="type"),
]
#: Every document model by its ``type``.
DOCUMENT_TYPES: dict[str, type[Any]] = {
    "purchase_order": PurchaseOrder,
    "po_acknowledgment": PoAcknowledgment,
    "ship_notice": ShipNotice,
    "invoice": Invoice,
    "inventory_advice": InventoryAdvice,
    "functional_ack": FunctionalAck,
}
#: The X12 transaction set each document type travels as (a purchase order arrives as an
#: 850; the others are rendered into their sets).
SET_OF_DOCUMENT: dict[str, str] = {
    "purchase_order": "850",
    "po_acknowledgment": "855",
    "ship_notice": "856",
    "invoice": "810",
    "inventory_advice": "846",
    "functional_ack": "997",
}
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ErpDocument)


def problems_of(error: ValidationError) -> list[Problem]:
    """pydantic's errors as :class:`Problem`s with JSON paths and plain messages."""
    problems = []
    for item in error.errors(include_url=False):
        location = tuple(item["loc"])
        # A tagged union puts the tag in the location (("invoice", "lines", 0)); drop it.
        if location and location[0] in DOCUMENT_TYPES:
            location = location[1:]
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "union_tag_invalid":
            message = f"unknown document type; expected one of {', '.join(DOCUMENT_TYPES)}"
            location = ("type",)
        elif item["type"] == "union_tag_not_found":
            message = f"missing 'type'; expected one of {', '.join(DOCUMENT_TYPES)}"
            location = ("type",)
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(json_path(location), message))
    return problems


def parse_document(data: bytes | str | dict[str, Any]) -> Any:
    """Read an ERP document (JSON text or a decoded object) into its model.

    Raises :class:`~gateway.errors.ErpDocumentError` carrying every problem with its JSON
    path (``$`` itself for JSON that does not parse).
    """
    if isinstance(data, bytes | str):
        try:
            decoded = json.loads(data)
        except json.JSONDecodeError as exc:
            message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            raise ErpDocumentError([Problem("$", message)]) from exc
        except UnicodeDecodeError as exc:
            raise ErpDocumentError([Problem("$", f"not UTF-8 text: {exc.reason}")]) from exc
    else:
        decoded = data
    if not isinstance(decoded, dict):
        raise ErpDocumentError([Problem("$", "a JSON object is expected")])
    try:
        return _ADAPTER.validate_python(decoded)
    except ValidationError as exc:
        raise ErpDocumentError(problems_of(exc)) from exc


def document_json(document: Any) -> str:
    """The canonical JSON of a document: fields in model order, ``None`` left out, 2-space
    indent, decimals as strings."""
    return document.model_dump_json(indent=2, exclude_none=True) + "\n"


def json_schema(model: type[Any]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one document model."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://acorn-gateway.invalid/schemas/{model.__name__}.json"
    return schema
