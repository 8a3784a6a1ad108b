"""The ERP documents: discriminated by ``type``, strict, exact decimals, X12-safe text, and
every refusal named by its JSON path."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.erp import (
    DOCUMENT_TYPES,
    PurchaseOrder,
    ShipNotice,
    document_json,
    parse_document,
)
from gateway.errors import ErpDocumentError


def purchase_order(**changes: Any) -> dict[str, Any]:
    """A minimal valid purchase order as decoded JSON, with ``changes`` applied."""
    document: dict[str, Any] = {
        "type": "purchase_order",
        "po_number": "7QX3KD9M",
        "order_type": "new",
        "po_date": "2025-03-10",
        "back_order_allowed": True,
        "ship_window": {"not_before": "2025-03-14", "not_after": "2025-03-21"},
        "ship_to": {"code": "RIC2"},
        "lines": [
            {
                "line_id": "1",
                "quantity": "24",
                "unit": "EA",
                "unit_price": "12.49",
                "product_ids": [{"kind": "upc", "value": "850001234016"}],
            }
        ],
    }
    document.update(changes)
    return document


def problems(data: Any) -> list[tuple[str, str]]:
    """(JSON path, message) of every problem parse_document reports for ``data``."""
    with pytest.raises(ErpDocumentError) as caught:
        parse_document(data if isinstance(data, str | bytes) else json.dumps(data))
    return [(p.path, p.message) for p in caught.value.problems]


def test_type_selects_the_model_and_version_defaults_to_1() -> None:
    """``type`` picks the model; ``version`` is 1 when absent."""
    document = parse_document(json.dumps(purchase_order()))
    assert isinstance(document, PurchaseOrder)
    assert document.version == 1
    assert document.lines[0].unit_price == Decimal("12.49")


def test_canonical_json_round_trips_exactly() -> None:
    """document_json -> parse_document -> document_json is byte-identical; decimals are
    written as strings so no float ever carries money."""
    text = document_json(parse_document(json.dumps(purchase_order())))
    assert document_json(parse_document(text)) == text
    assert '"unit_price": "12.49"' in text


def test_malformed_json_names_line_and_column() -> None:
    """Text that is not JSON: one problem at ``$`` with the line and column."""
    (found,) = problems('{"type": "purchase_order",\n "po_number": }')
    assert found[0] == "$"
    assert found[1].startswith("not valid JSON: Expecting value (line 2, column 15)")


def test_json_that_is_not_an_object_is_refused() -> None:
    """A JSON array is not a document."""
    assert problems("[1, 2]") == [("$", "a JSON object is expected")]


def test_unknown_and_missing_type() -> None:
    """An unknown or absent ``type`` is reported at ``$.type`` with the known types."""
    ((path, message),) = problems({"type": "credit_note"})
    assert path == "$.type" and "unknown document type" in message
    assert "purchase_order" in message
    ((path, message),) = problems({"po_number": "1"})
    assert path == "$.type" and message.startswith("missing 'type'")


def test_unknown_fields_are_refused_at_their_path() -> None:
    """Extra fields, at the top and nested, are refused by path."""
    data = purchase_order(colour="red")
    data["lines"][0]["discount"] = "1"
    assert sorted(problems(data)) == [
        ("$.colour", "unknown field"),
        ("$.lines[0].discount", "unknown field"),
    ]


def test_missing_fields_and_wrong_types_are_named() -> None:
    """Each missing field and wrong type is named by its JSON path."""
    data = purchase_order(po_date="10/03/2025")
    del data["lines"][0]["unit"]
    data["lines"][0]["quantity"] = True
    found = dict(problems(data))
    assert "date" in found["$.po_date"].lower()
    assert found["$.lines[0].unit"] == "Field required"
    assert "true/false" in found["$.lines[0].quantity"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.50", Decimal("12.50")), (12.5, Decimal("12.5")), (7, Decimal(7)), ("0.0001", None)],
)
def test_money_is_an_exact_decimal(value: Any, expected: Decimal | None) -> None:
    """JSON strings and short numbers become the exact Decimal written; more than 4 places
    is refused."""
    data = purchase_order()
    data["lines"][0]["unit_price"] = value
    if expected is None:
        data["lines"][0]["unit_price"] = "0.00001"
        ((path, message),) = problems(data)
        assert path == "$.lines[0].unit_price" and "4 decimal places" in message
        return
    document = parse_document(json.dumps(data))
    assert document.lines[0].unit_price == expected
    assert isinstance(document.lines[0].unit_price, Decimal)


def test_json_numbers_that_a_float_cannot_hold_are_refused() -> None:
    """A number with more digits than a float keeps must be sent as a string."""
    text = json.dumps(purchase_order()).replace('"12.49"', "1234567890123.4567")
    ((path, message),) = problems(text)
    assert path == "$.lines[0].unit_price"
    assert "send it as a string" in message


def test_negative_quantities_are_refused() -> None:
    """Quantities and money are not negative."""
    data = purchase_order()
    data["lines"][0]["quantity"] = "-1"
    ((path, message),) = problems(data)
    assert path == "$.lines[0].quantity" and "greater than or equal to 0" in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("7QX*3KD", "'*' cannot be sent in X12"),
        ("7QX~3KD", "'~' cannot be sent in X12"),
        ("7QX>3KD", "'>' cannot be sent in X12"),
        ("7QX^3KD", "'^' cannot be sent in X12"),
        ("7QX\n3KD", "'\\n' cannot be sent in X12"),
        ("CAFÉ", "'É' cannot be sent in X12"),
        (" 7QX", "leading or trailing blanks"),
        ("P" * 23, "at most 22 characters"),
        ("", "at least 1 character"),
    ],
)
def test_text_must_fit_x12(value: str, fragment: str) -> None:
    """Delimiters, control and non-ASCII characters, blanks at the ends and overlong
    values are refused before any X12 is written, at the field's JSON path."""
    ((path, message),) = problems(purchase_order(po_number=value))
    assert path == "$.po_number"
    assert fragment in message


def test_documents_are_immutable() -> None:
    """A parsed document cannot be changed in place."""
    document = parse_document(json.dumps(purchase_order()))
    with pytest.raises(ValidationError):
        document.po_number = "OTHER"  # type: ignore[misc]


def test_every_document_type_is_registered_with_its_discriminator() -> None:
    """DOCUMENT_TYPES maps each ``type`` value to the model whose default type it is."""
    for name, model in DOCUMENT_TYPES.items():
        assert model.model_fields["type"].default == name


def test_ship_notice_sscc_takes_18_or_20_digits() -> None:
    """An SSCC is 18 digits, or 20 with the GS1-128 application identifier 00."""
    field = ShipNotice.model_json_schema()["$defs"]["Carton"]["properties"]["sscc"]
    assert field["pattern"] == "^(00)?[0-9]{18}$"
