"""schemas/ holds the current JSON Schema of every ERP document, and they mean what the
models mean: golden ERP documents validate against them, bad ones do not."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gateway.cli import main
from gateway.cli.schemas import DEFAULT_DIR, schema_texts
from gateway.erp import DOCUMENT_TYPES
from tests.conftest import FIXTURES


def test_committed_schemas_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    """`acorn schemas --check` passes on the repository: regenerate with --write."""
    code = main(["schemas", "--check"])
    out = capsys.readouterr().out
    assert code == 0, f"schemas/ is stale; run `acorn schemas --write`\n{out}"
    assert sorted(p.name for p in DEFAULT_DIR.glob("*.schema.json")) == sorted(schema_texts())


def test_check_reports_a_stale_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--write writes one file per document; an edited file makes --check exit 1."""
    assert main(["schemas", "--write", "--dir", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.schema.json"))) == len(DOCUMENT_TYPES)
    (tmp_path / "invoice.schema.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["schemas", "--check", "--json", "--dir", str(tmp_path)]) == 1
    status = json.loads(capsys.readouterr().out)["schemas"]
    assert status["invoice.schema.json"] == "stale"
    assert status["purchase_order.schema.json"] == "current"


def _golden_documents() -> list[Path]:
    return sorted((FIXTURES / "golden").glob("*/*.json"))


@pytest.mark.parametrize("path", _golden_documents(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_documents_validate_against_their_schema(path: Path) -> None:
    """Each golden ERP document (or each in a golden array) is valid for its schema."""
    data = json.loads(path.read_text())
    for document in data if isinstance(data, list) else [data]:
        schema = json.loads((DEFAULT_DIR / f"{document['type']}.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(document)


def test_schema_refuses_what_the_model_refuses() -> None:
    """Unknown fields, delimiters in text and float-only money are refused by the schema."""
    schema = json.loads((DEFAULT_DIR / "purchase_order.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    good = {
        "type": "purchase_order", "po_number": "7QX3KD9M", "order_type": "new",
        "po_date": "2025-03-10", "ship_to": {"code": "RIC2"}, "back_order_allowed": False,
        "ship_window": {"not_before": "2025-03-14", "not_after": "2025-03-21"},
        "lines": [{"line_id": "1", "quantity": "2", "unit": "EA", "unit_price": "1.5",
                   "product_ids": [{"kind": "upc", "value": "850001234016"}]}],
    }  # fmt: skip
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({**good, "colour": "red"}))
    assert list(validator.iter_errors({**good, "po_number": "7QX*3KD9M"}))
    bad_line = {**good["lines"][0], "quantity": "two"}
    assert list(validator.iter_errors({**good, "lines": [bad_line]}))
