"""Every public sample in ../shared/samples/x12 through `acorn validate --json`.

Each file exits 0 or 1 with a JSON report and no traceback. Each file marked I (invalid) in
SOURCES.md exits 1 with a finding that names the problem SOURCES.md states for it; the
expectations below were written from SOURCES.md, not from our output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.cli import main
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "x12"


def _status_by_file() -> dict[str, str]:
    """File name -> status letter (V, VL, VW, I) from the SOURCES.md table."""
    path = SAMPLES / "SOURCES.md"
    if not path.is_file():
        return {}
    rows = re.findall(r"^\| (\S+\.edi) \| \d+ \| (\w+) \|", path.read_text(), re.MULTILINE)
    return dict(rows)


def _findings(report: dict) -> list[dict]:
    found = list(report["findings"])
    for isa in report["interchanges"]:
        found += isa["findings"]
        for group in isa["groups"]:
            found += group["findings"]
            for txn in group["transactions"]:
                found += txn["findings"]
    return found


def has(level: str, code: str, text: str = "") -> Callable[[list[dict]], bool]:
    """A finding of ``level`` with ``code`` whose message contains ``text``."""

    def check(findings: list[dict]) -> bool:
        return any(
            f["level"] == level and f["code"] == code and text in f["message"] for f in findings
        )

    check.__doc__ = f"{level} {code} {text!r}"
    return check


#: For each I file: the problem SOURCES.md states, as a finding we must report.
INVALID_PROBLEMS: dict[str, list[Callable[[list[dict]], bool]]] = {
    # duplicate group control number; an 850 inside an IN group
    "810_edifabric_2.edi": [has("group", "19", "GS06"), has("transaction", "1", "PO")],
    # ISA12 00040 is not a valid version
    "810_oopfactory_1.edi": [has("interchange", "017", "00040")],
    # two groups with the same GS06 but IEA01=1
    "810_sezna_1.edi": [has("interchange", "021", "IEA01"), has("group", "19", "GS06")],
    # ISA11 is a space (must be U in 4010)
    "846_oopfactory_1.edi": [has("interchange", "016", "ISA11")],
    # ISA11 space; two missing terminators merge segments (REF and QTY get extra elements)
    "846_oopfactory_2.edi": [has("interchange", "016", "ISA11"), has("segment", "8", "REF")],
    # GS01=IN although the sets are 850
    "850_edifabric_1.edi": [has("transaction", "1", "850 belongs in a functional group PO")],
    # corrupt ISA: the file starts with SA*
    "850_edifabric_2.edi": [has("document", "024", "'ISA'")],
    # corrupt ST tag T*850*0001, orphan segments, GE01=2 with one real ST
    "850_edifabric_3.edi": [has("interchange", "024", "segment T "), has("group", "5", "GE01")],
    # two groups with the same GS06; GS01=IN for 850
    "850_edifabric_4.edi": [has("group", "19", "GS06"), has("transaction", "1", "PO")],
    # ISA01/ISA03 are two spaces; junk segments; SE01=11 but 10 segments
    "850_sezna_2.edi": [
        has("interchange", "010", "ISA01"),
        has("segment", "1", "TEST"),
        has("transaction", "4", "SE01"),
    ],
    # GS01=IN for an 855; GE01=2 but one ST
    "855_edifabric_1.edi": [has("transaction", "1", "PR"), has("group", "5", "GE01")],
    # GS01=IN for an 856; GE01=2 with one ST
    "856_edifabric_1.edi": [has("transaction", "1", "SH"), has("group", "5", "GE01")],
    # GS08 003060 (not a release the Amazon maps speak)
    "856_oopfactory_3.edi": [has("group", "2", "003060")],
    # ISA06 is 14 characters (ISA not fixed width); SE01 mismatch
    "860_oopfactory_1.edi": [has("interchange", "006", "ISA06"), has("transaction", "4", "SE01")],
    # GS04 6-digit with 004010
    "997_edifabric_1.edi": [has("group", "1", "GS04")],
    # no GS/GE: ST directly under ISA
    "997_sezna_1.edi": [has("interchange", "024", "ST without GS")],
    # AK101 'HC NOT IN CODESET', AK402 non-numeric
    "997_staedi_2.edi": [has("element", "7", "AK101"), has("element", "6", "AK402")],
    # GE02 non-numeric / too long and != GS06
    "997_staedi_3.edi": [has("group", "4", "GE02")],
    # delimiters inside AK3/AK4 elements: AK302 non-numeric
    "997_staedi_4.edi": [has("element", "6", "AK302")],
}


def _sample_names() -> list[str]:
    return sorted(p.name for p in SAMPLES.glob("*.edi")) or ["(samples absent)"]


@pytest.mark.parametrize("name", _sample_names())
def test_sample_validates_without_traceback(
    name: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 or 1, a JSON report, no traceback; I files exit 1 naming their problem."""
    status = _status_by_file()[name]
    code = main(["validate", "--json", str(SAMPLES / name)])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert "Traceback" not in out + err
    payload = json.loads(out)
    report = payload["reports"][0]
    assert report["accepted"] is (code == 0)
    if status == "I":
        assert code == 1
        findings = _findings(report)
        for problem in INVALID_PROBLEMS[name]:
            assert problem(findings), (
                f"{name}: no finding for {problem.__doc__}; got "
                + "; ".join(f"{f['level']} {f['code']} {f['message']}" for f in findings)
            )


def test_every_invalid_sample_has_a_stated_problem(shared_dir: Path) -> None:
    """The table above covers exactly the files SOURCES.md marks I."""
    invalid = {name for name, status in _status_by_file().items() if status == "I"}
    assert invalid == set(INVALID_PROBLEMS)
