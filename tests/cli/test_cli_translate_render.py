"""`acorn translate` and `acorn render`: X12 to ERP JSON and back, with findings by JSON path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.erp import document_json, parse_document
from gateway.validation import validate
from gateway.x12 import parse
from tests.goldens import GOLDEN, golden_names


def _first(set_id: str) -> Path:
    return GOLDEN / set_id / f"{golden_names(set_id)[0]}.json"


def _write(tmp_path: Path, data: Any, name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_translate_prints_every_purchase_order(capsys: pytest.CaptureFixture[str]) -> None:
    """translate prints a JSON array with one purchase order per 850 of the file."""
    name = golden_names("850")[0]
    assert main(["translate", str(GOLDEN / "850" / f"{name}.edi"), "--partner", "amazon"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = json.loads((GOLDEN / "850" / f"{name}.json").read_text())
    assert [d["po_number"] for d in printed] == [d["po_number"] for d in expected]
    assert printed == expected


def test_translate_out_writes_one_file_per_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out DIR writes <type>-<key>.json per document and lists the paths."""
    def count(name: str) -> int:
        return len(json.loads((GOLDEN / "850" / f"{name}.json").read_text()))

    multi = max(golden_names("850"), key=count)
    expected = json.loads((GOLDEN / "850" / f"{multi}.json").read_text())
    assert len(expected) > 1
    assert main(["translate", str(GOLDEN / "850" / f"{multi}.edi"), "--out", str(tmp_path)]) == 0
    listed = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in listed) == sorted(
        f"purchase_order-{d['po_number']}.json" for d in expected
    )
    written = parse_document(Path(listed[0]).read_bytes())
    assert written.po_number in {d["po_number"] for d in expected}


def test_translate_rejected_set_exits_1_with_its_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rejected set is not translated: exit 1, the finding on stderr, nothing for it."""
    name = golden_names("850")[0]
    broken = (GOLDEN / "850" / f"{name}.edi").read_bytes().replace(b"CSH*", b"CSX*", 1)
    path = tmp_path / "broken.edi"
    path.write_bytes(broken)
    assert main(["translate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "is rejected; not translated" in err and "CSX" in err
    assert "Traceback" not in err


def test_render_prints_a_validated_interchange(capsys: pytest.CaptureFixture[str]) -> None:
    """render prints X12 the validator accepts, with the requested envelope."""
    path = _first("810")
    today = parse_document(path.read_bytes()).invoice_date.isoformat()
    code = main(["render", str(path), "--sender", "ZZ:ACMEVENDOR", "--receiver", "ZZ:AMAZON",
                 "--control-number", "42", "--timestamp", "2025-03-10T12:00",
                 "--today", today])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    text = out.strip().encode()
    assert validate(text).accepted
    (isa,) = parse(text).interchanges
    assert isa.control_number == "000000042" and isa.sender == ("ZZ", "ACMEVENDOR")
    assert isa.groups[0].functional_id == "IN"


def test_render_856_at_5010(capsys: pytest.CaptureFixture[str]) -> None:
    """--release 005010 renders an 856 with ISA12 00501 and GS08 005010."""
    path = _first("856")
    document = parse_document(path.read_bytes())
    code = main(["render", str(path), "--release", "005010",
                 "--today", document.ship_date.isoformat()])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    (isa,) = parse(out.strip().encode()).interchanges
    assert isa.version == "00501" and isa.groups[0].version == "005010"


def _problems(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict[str, str]]:
    assert main([*argv, "--json"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    payload = json.loads(out)
    assert payload["accepted"] is False
    return payload["problems"]


def test_render_bad_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Malformed JSON: exit 1, one problem at $ with the line and column."""
    path = _write(tmp_path, '{"type": "invoice",')
    (problem,) = _problems(capsys, ["render", str(path)])
    assert problem["path"] == "$" and "not valid JSON" in problem["message"]


def test_render_wrong_missing_unknown_fields_and_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wrong types, missing and unknown fields each named by JSON path; unknown type too."""
    data = json.loads(_first("810").read_text())
    data["lines"][0]["quantity"] = "many"
    del data["invoice_date"]
    data["colour"] = "red"
    problems = _problems(capsys, ["render", str(_write(tmp_path, data))])
    found = {p["path"]: p["message"] for p in problems}
    assert set(found) == {"$.lines[0].quantity", "$.invoice_date", "$.colour"}
    assert found["$.colour"] == "unknown field"
    (problem,) = _problems(capsys, ["render", str(_write(tmp_path, {"type": "credit_memo"}))])
    assert problem["path"] == "$.type"


def test_render_bad_check_digit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A UPC with a wrong check digit is refused at its JSON path."""
    data = json.loads(_first("810").read_text())
    line, index = next(
        (line, i) for i, line in enumerate(data["lines"])
        if any(p["kind"] == "upc" for p in line["product_ids"])
    )  # fmt: skip
    slot = next(i for i, p in enumerate(line["product_ids"]) if p["kind"] == "upc")
    value = line["product_ids"][slot]["value"]
    line["product_ids"][slot]["value"] = value[:-1] + str((int(value[-1]) + 1) % 10)
    problems = _problems(capsys, ["render", str(_write(tmp_path, data)), "--today", "2030-01-01"])
    assert f"$.lines[{index}].product_ids[{slot}].value" in {p["path"] for p in problems}


def test_render_total_off_by_one_cent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invoice total one cent off is refused at $.total, naming the expected total."""
    data = json.loads(_first("810").read_text())
    document = parse_document(json.dumps(data))
    data["total"] = str(document.total + Decimal("0.01"))
    problems = _problems(capsys, ["render", str(_write(tmp_path, data)), "--today", "2030-01-01"])
    totals = [p for p in problems if p["path"] == "$.total"]
    assert totals and str(document.total) in totals[0]["message"]


def test_render_then_translate_gives_the_document_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ERP JSON -> `acorn render` -> `acorn translate` -> the same JSON."""
    source = _first("855")
    assert main(["render", str(source), "--timestamp", "2025-03-10T12:00",
                 "--today", "2025-03-10"]) == 0  # fmt: skip
    edi = tmp_path / "out.edi"
    edi.write_text(capsys.readouterr().out.strip())
    assert main(["translate", str(edi)]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert document_json(parse_document(json.dumps(document))) == source.read_text()
