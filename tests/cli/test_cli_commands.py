"""The `acorn` command line: validate and inspect, output formats and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import MUTANTS, generate
from gateway.cli import main
from gateway.x12 import parse
from tests.conftest import FIXTURES, REPO


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.edi"
    path.write_bytes(generate(101, sets=2, max_lines=3))
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.edi"
    dtm = next(m for m in MUTANTS if m.name == "bad date in DTM02")
    path.write_text(dtm.mutate(generate(102, sets=1, max_lines=3).decode()))
    return path


def test_validate_accepted_file_exits_0(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean file: exit 0 and one line saying it is accepted."""
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: accepted\n"


def test_validate_prints_findings_with_their_place(
    bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finding prints as file:offset SEG[pos] element NN: message; exit 1."""
    assert main(["validate", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    offset = bad.read_bytes().index(b"DTM*064")
    assert lines[0] == f"{bad}: rejected (1 finding)"
    assert lines[1].startswith(f"{bad}:{offset} DTM[6] element 02: invalid date")
    assert "20261341" in lines[1]


def test_validate_engine_option_gives_the_same_report_on_either_engine(
    good: Path, bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--engine pyx12` keeps the reference path: the same lines and exit codes as the
    default fast engine, on a clean file and on a rejected one; a wrong name is refused."""
    for path, code in ((good, 0), (bad, 1)):
        outputs = []
        for engine in ("fast", "pyx12"):
            assert main(["validate", "--engine", engine, "--json", str(path)]) == code
            outputs.append(json.loads(capsys.readouterr().out))
        assert outputs[0] == outputs[1]
    assert main(["validate", "--engine", "pyx13", str(good)]) == 2
    assert "invalid choice: 'pyx13'" in capsys.readouterr().err


def test_validate_several_files_exit_1_when_any_rejected(
    good: Path, bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file is reported; exit 1 because one is rejected."""
    assert main(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{good}: accepted" in out and f"{bad}: rejected" in out


def test_validate_json(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the report: statuses per interchange, group and set, and the findings."""
    assert main(["validate", "--json", str(bad)]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["accepted"] is False
    (report,) = payload["reports"]
    group = report["interchanges"][0]["groups"][0]
    assert group["status"] == "rejected" and group["functional_id"] == "PO"
    (finding,) = group["transactions"][0]["findings"]
    assert finding["element_name"] == "DTM02"
    assert (finding["level"], finding["code"], finding["position"]) == ("element", "8", 6)
    assert finding["description"] == "invalid date"


def test_validate_ack_prints_the_997(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--ack prints a 997 that rejects the set with AK3/AK4 for DTM02, numbered from N."""
    assert main(["validate", "--ack", "--control-number", "500", str(bad)]) == 1
    out = capsys.readouterr().out
    ack_text = out[out.index("ISA*") :].strip().encode()
    (ack,) = parse(ack_text).interchanges
    assert ack.control_number == "000000500"
    tags = [(s.tag, s.elements) for s in ack.groups[0].transactions[0].segments]
    assert ("AK3", ("DTM", "6", "", "8")) in tags or ("AK3", ("DTM", "6", "8")) in tags
    assert ("AK4", ("2", "373", "8", "20261341")) in tags
    assert tags[-1] == ("AK9", ("R", "1", "1", "0"))


def test_validate_unreadable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that cannot be read: exit 2 and a one-line message, no traceback."""
    missing = tmp_path / "nope.edi"
    assert main(["validate", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"{missing}: cannot read: No such file or directory"
    assert "Traceback" not in out + err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """No path, or an unknown command: exit 2 with argparse's usage message."""
    assert main(["validate"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_inspect_prints_the_envelope_tree(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect lists interchange, group and sets with control numbers and segment counts."""
    assert main(["inspect", str(good)]) == 0
    out = capsys.readouterr().out.splitlines()
    document = parse(good)
    (isa,) = document.interchanges
    assert out[0] == str(good)
    parties = "ZZ/AMAZON -> ZZ/ACMEVENDOR"
    assert out[1].startswith(f"  interchange ISA13 {isa.control_number}  {parties}")
    assert out[2].startswith(f"    group PO GS06 {isa.groups[0].control_number}")
    sets = [line for line in out if line.startswith("      set ")]
    assert [s.split()[1:4] for s in sets] == [
        ["850", "ST02", t.control_number] for t in isa.groups[0].transactions
    ]
    counts = [int(s.split()[4]) for s in sets]
    assert counts == [len(t.all_segments()) for t in isa.groups[0].transactions]


def test_inspect_json_and_issues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """inspect --json carries the tree; a GE01 mismatch is listed and exits 1."""
    path = tmp_path / "ge.edi"
    path.write_bytes(generate(7, sets=2, max_lines=2).replace(b"GE*2*", b"GE*5*"))
    assert main(["inspect", "--json", str(path)]) == 1
    tree = json.loads(capsys.readouterr().out)
    group = tree["interchanges"][0]["groups"][0]
    assert group["declared_sets"] == "5" and len(group["transactions"]) == 2
    assert [(i["code"], i["element"]) for i in group["issues"]] == [("5", "GE01")]


def test_python_dash_m_gateway_runs_the_cli(good: Path) -> None:
    """`python -m gateway validate` behaves like `acorn validate` (a real subprocess)."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "validate", str(good)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{good}: accepted\n"


def test_golden_fixtures_validate(capsys: pytest.CaptureFixture[str]) -> None:
    """Every golden X12 file in sandbox_fixtures/x12 is accepted by `acorn validate`."""
    paths = sorted(str(p) for p in (FIXTURES / "x12").glob("*.edi"))
    assert paths, "sandbox_fixtures/x12 holds the golden files"
    assert main(["validate", *paths]) == 0, capsys.readouterr().out


def test_internal_error_is_one_line_not_a_traceback(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unexpected exception prints one line naming it and exits 1 (ACORN_DEBUG unset)."""
    import gateway.cli.validate as command

    def broken(_path: object, **_options: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.delenv("ACORN_DEBUG", raising=False)
    monkeypatch.setattr(command, "validate", broken)
    assert main(["validate", str(good)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("acorn: internal error (RuntimeError: disk on fire)")
    assert "Traceback" not in err
