"""Bad input: each case exits 1 with exactly one clear finding and no traceback.

Empty file, text that is not X12, an ISA cut short, binary noise, a 10 MB segment; plus a
crash inside pyx12 turned into a rejected set.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.corpus import generate
from gateway.cli import main
from gateway.validation import MapSet, validate

ISA = (
    b"ISA*00*          *00*          *ZZ*AMAZON         *ZZ*ACMEVENDOR     *260101*1200*U*"
    b"00401*000000001*0*P*>~"
)


def _cases() -> dict[str, tuple[bytes, str]]:
    noise = random.Random(20261123).randbytes(4096)
    huge = (
        ISA + b"GS*PO*AMAZON*ACMEVENDOR*20260101*1200*1*X*004010~ST*850*0001~BEG*00*NE*"
        + b"A" * (10 * 1024 * 1024)
        + b"~SE*3*0001~GE*1*1~IEA*1*000000001~"
    )
    return {
        "empty": (b"", "input is empty"),
        "whitespace": (b"  \r\n\n ", "input is empty"),
        "not x12": (b"Dear supplier,\nplease find attached our order.\n", "'ISA'"),
        "isa cut short": (ISA[:57], "ISA is cut short: 57 of 106 bytes"),
        "binary noise": (noise, "'ISA'"),
        "10 MB segment": (huge, "no segment terminator '~' within 1048576 bytes"),
    }


CASES = _cases()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_clear_finding(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`acorn validate` exits 1, prints one finding naming the problem, and no traceback."""
    data, message = CASES[case]
    path = tmp_path / "input.edi"
    path.write_bytes(data)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert lines[0] == f"{path}: rejected (1 finding)"
    assert len(lines) == 2
    assert lines[1].startswith(f"{path}:")
    assert message in lines[1]

    assert main(["validate", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)["reports"][0]
    assert len(report["findings"]) == 1 and report["interchanges"] in ([], report["interchanges"])


def test_10mb_segment_finding_points_at_the_segment() -> None:
    """The too-long segment is located at its own byte offset (after ISA, GS, ST)."""
    data, _ = CASES["10 MB segment"]
    report = validate(data)
    (finding,) = report.all_findings()
    assert finding.offset == data.index(b"BEG*")
    assert finding.segment == "BEG"


def test_pyx12_crash_becomes_a_rejected_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception inside pyx12's walk is a rejected set with a clear message, not a crash.

    pyx12 raises IndexError/AttributeError/EngineError on some malformed inputs; the
    guard is exercised by making the walk raise as pyx12 does.
    """
    maps = MapSet()

    def explode(*_args: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(maps, "_walk", explode)
    report = validate(generate(5, sets=2, max_lines=2), maps=maps, engine="pyx12")
    sets = report.interchanges[0].groups[0].transactions
    assert [t.status for t in sets] == ["rejected", "rejected"]
    (finding,) = sets[0].findings
    assert finding.level == "transaction" and finding.code == "5"
    assert "could not process this transaction set (IndexError" in finding.message
    assert report.interchanges[0].groups[0].status == "rejected"


def test_an_unknown_set_id_in_a_group_is_not_supported() -> None:
    """ST*85O in a PO group: no map knows it and pyx12 cannot place it; the set is
    rejected as not supported (AK502 1), never accepted unchecked."""
    text = generate(6, sets=2, max_lines=2).decode().replace("ST*850*0002", "ST*85O*0002", 1)
    report = validate(text.encode())
    first, second = report.interchanges[0].groups[0].transactions
    assert first.status == "accepted"
    assert second.status == "rejected"
    (finding,) = second.findings
    assert (finding.level, finding.code, finding.segment, finding.element) == (
        "transaction", "1", "ST", 1)
    assert "'85O' not supported" in finding.message


def test_an_st02_holding_se_is_reported_on_the_st() -> None:
    """A bad ST02 whose value contains "SE" is still an ST finding (the designator, not
    the value, names the segment)."""
    text = generate(8, sets=1, max_lines=2).decode().replace("ST*850*0001", "ST*850*SE1", 1)
    text = text.replace("*0001~", "*SE1~")
    findings = [f for f in validate(text.encode()).all_findings() if f.level == "transaction"]
    on = {("(ST02)" in f.message, "(SE02)" in f.message): f.segment for f in findings}
    assert on == {(True, False): "ST", (False, True): "SE"}, findings
