"""The pyx12 map directory maps/ and its golden Amazon-style documents.

Every map must pass the shared map linter, every golden file in sandbox_fixtures/x12/ must
validate clean with pyx12 against maps/, and a broken variant of each golden file must be
reported invalid for the intended reason.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12n_document

REPO = Path(__file__).resolve().parents[2]
MAPS = REPO / "maps"
GOLDEN = REPO / "sandbox_fixtures" / "x12"
SHARED_TOOLS = REPO.parent / "shared" / "tools"

TRANSACTION_MAPS = [
    "850.4010.xml",
    "855.4010.xml",
    "810.4010.xml",
    "846.4010.xml",
    "856.4010.xml",
    "856.5010.xml",
    "997.4010.xml",
]
CONTROL_MAPS = ["x12.control.00401.xml", "x12.control.00501.xml"]
GOLDEN_FILES = sorted(p.name for p in GOLDEN.glob("*.edi"))


@pytest.fixture(autouse=True)
def _quiet_pyx12():
    """pyx12 logs every data error at ERROR level; the tests read the results instead."""
    logger = logging.getLogger("pyx12")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(previous)


def _lint_module():
    """Import shared/tools/lint_pyx12_map.py, or skip (fail in CI) when shared/ is absent."""
    path = SHARED_TOOLS / "lint_pyx12_map.py"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"map linter missing in CI: {path}")
        pytest.skip(f"shared map linter not available at {path}")
    spec = importlib.util.spec_from_file_location("lint_pyx12_map", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validate(source: str | io.StringIO, map_path: Path | None = MAPS) -> tuple[bool, str, dict]:
    """Run pyx12 on a path or text stream; return (valid, acknowledgment text, JSON error tree)."""
    ack = io.StringIO()
    errors = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=str(source) if isinstance(source, Path) else source,
        fd_997=ack,
        fd_html=None,
        fd_xmldoc=None,
        fd_json=errors,
        map_path=str(map_path) if map_path is not None else None,
    )
    return ok, ack.getvalue(), json.loads(errors.getvalue() or "{}")


def fix_se_counts(text: str) -> str:
    """Recount SE01 of every set, so a removed segment is reported as such, not as a bad count."""
    lines = text.split("\n")
    out: list[str] = []
    count = 0
    for line in lines:
        if line.startswith("ST*"):
            count = 0
        if line:
            count += 1
        if line.startswith("SE*"):
            parts = line.split("*")
            parts[1] = str(count)
            line = "*".join(parts)
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------- the map directory


@pytest.mark.parametrize("map_file", TRANSACTION_MAPS)
def test_map_passes_the_shared_linter(map_file):
    """No missing data element, no shared sibling <pos>, envelope repeated, registered."""
    lint = _lint_module()
    assert lint.lint(str(MAPS), map_file) == []


@pytest.mark.parametrize("map_file", CONTROL_MAPS)
def test_control_map_elements_are_all_defined(map_file):
    """A control map element missing from dataele.xml would crash pyx12 on every ISA."""
    lint = _lint_module()
    defined = lint.load_dataele(str(MAPS))
    used = {e.findtext("data_ele") for e in ET.parse(MAPS / map_file).iter("element")}
    assert used - set(defined) == set()


def test_maps_xml_points_at_existing_maps():
    """Every index entry names a map file that exists; 004010 sets answer to 00401 and 00400."""
    entries = {
        (v.get("icvn"), m.get("vriic"), m.get("fic")): m.text
        for v in ET.parse(MAPS / "maps.xml").getroot().iter("version")
        for m in v.iter("map")
    }
    for map_file in entries.values():
        assert (MAPS / map_file).is_file(), map_file
    for icvn in ("00401", "00400"):
        for fic, name in [
            ("PO", "850"),
            ("PR", "855"),
            ("IN", "810"),
            ("IB", "846"),
            ("SH", "856"),
            ("FA", "997"),
        ]:
            assert entries[(icvn, "004010", fic)] == f"{name}.4010.xml"
    assert entries[("00501", "005010", "SH")] == "856.5010.xml"


def test_dataele_lists_only_used_elements_with_valid_types():
    """dataele.xml is ours: one entry per element used, X12 types only, min <= max."""
    used: set[str] = set()
    for map_file in TRANSACTION_MAPS + CONTROL_MAPS:
        used |= {e.findtext("data_ele") for e in ET.parse(MAPS / map_file).iter("element")}
    entries = list(ET.parse(MAPS / "dataele.xml").getroot().iter("data_ele"))
    numbers = [e.get("ele_num") for e in entries]
    assert len(numbers) == len(set(numbers))
    assert set(numbers) == used
    for e in entries:
        assert e.get("data_type") in {"AN", "ID", "N0", "N2", "R", "DT", "TM"}
        assert 1 <= int(e.get("min_len")) <= int(e.get("max_len"))
    by_num = {e.get("ele_num"): e for e in entries}
    assert (by_num["373"].get("min_len"), by_num["373"].get("max_len")) == ("8", "8")
    assert by_num["610"].get("data_type") == "N2"


def test_control_maps_accept_amazon_envelope_values():
    """ISA11 U (4010) / any repetition separator (5010), ISA12 00401+00400, ISA14 0/1, ISA15 P/T."""

    def codes(map_file, xid):
        for e in ET.parse(MAPS / map_file).iter("element"):
            if e.get("xid") == xid:
                return [c.text for c in e.iter("code")]
        raise AssertionError(xid)

    assert codes("x12.control.00401.xml", "ISA11") == ["U"]
    assert codes("x12.control.00501.xml", "ISA11") == []
    assert set(codes("x12.control.00401.xml", "ISA12")) == {"00401", "00400"}
    assert codes("x12.control.00501.xml", "ISA12") == ["00501"]
    for map_file in CONTROL_MAPS:
        assert codes(map_file, "ISA14") == ["0", "1"]
        assert codes(map_file, "ISA15") == ["P", "T"]


# ---------------------------------------------------------------- golden documents


def test_there_is_a_golden_file_per_map():
    assert {
        "850_amazon_ne.edi",
        "850_amazon_multi.edi",
        "855_amazon.edi",
        "856_amazon_4010.edi",
        "856_amazon_5010.edi",
        "810_amazon.edi",
        "846_amazon.edi",
        "997_amazon.edi",
    } <= set(GOLDEN_FILES)


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_file_validates_clean(name):
    """Each golden file is valid; 004010 non-997 groups get an accepting 997 (AK9*A)."""
    ok, ack, _ = validate(GOLDEN / name)
    assert ok is True
    text = (GOLDEN / name).read_text()
    if "*FA*" in text.split("\n")[1]:
        # pyx12 never acknowledges an acknowledgment (GS01 FA): no 997 is written.
        assert ack == ""
    elif "*005010~" in text:
        # For 005010 pyx12 writes a 999, whose AK2 needs ST03 (see the next test).
        assert "ST*999" in ack
    else:
        assert "AK9*A" in ack
        assert "AK5*R" not in ack


def test_5010_asn_gets_an_accepting_999_when_st03_is_present():
    """pyx12's 999 writer needs ST03; with it the 005010 ASN is acknowledged with AK9*A."""
    text = (
        (GOLDEN / "856_amazon_5010.edi").read_text().replace("ST*856*0001~", "ST*856*0001*005010~")
    )
    ok, ack, _ = validate(io.StringIO(text))
    assert ok is True
    assert "AK9*A" in ack


def test_golden_interchanges_are_well_formed():
    """106-character ISA, ~ plus newline, Amazon/vendor ZZ ids, matching control numbers."""
    for name in GOLDEN_FILES:
        text = (GOLDEN / name).read_text()
        lines = text.split("\n")
        assert lines[-1] == "" and all(line.endswith("~") for line in lines[:-1]), name
        isa = lines[0]
        assert len(isa) == 106 and isa[3] == "*" and isa[104] == ">", name
        fields = isa.split("*")
        assert {fields[6].strip(), fields[8].strip()} == {"AMAZON", "ACMEVENDOR"}, name
        assert fields[5] == fields[7] == "ZZ"
        assert lines[-2] == f"IEA*{text.count(chr(10) + 'GS*')}*{fields[13]}~", name


def _gs1_ok(digits: str) -> bool:
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def test_golden_identifiers_carry_valid_gs1_check_digits():
    """UPC (12), EAN (13) and SSCC (00 + 18) values in the golden files pass GS1 mod 10."""
    seen = 0
    for name in GOLDEN_FILES:
        text = (GOLDEN / name).read_text()
        for qual, value in re.findall(r"\*(UP|EN)\*(\d+)", text):
            assert len(value) == {"UP": 12, "EN": 13}[qual], (name, value)
            assert _gs1_ok(value), (name, value)
            seen += 1
        for sscc in re.findall(r"MAN\*GM\*(\d+)", text):
            assert len(sscc) == 20 and sscc.startswith("00") and _gs1_ok(sscc[2:]), (name, sscc)
            seen += 1
    assert seen > 10


def test_golden_invoice_total_is_exact():
    """TDS01 = sum(IT102 * IT104) - allowances + charges, in cents."""
    text = (GOLDEN / "810_amazon.edi").read_text()
    items = sum(
        int(q) * round(float(p) * 100)
        for q, p in re.findall(r"IT1\*\d+\*(\d+)\*\w\w\*([\d.]+)", text)
    )
    allowances = sum(int(a) for a in re.findall(r"SAC\*A\*\w{4}\*\*\*(\d+)", text))
    charges = sum(int(a) for a in re.findall(r"SAC\*C\*\w{4}\*\*\*(\d+)", text))
    (tds,) = re.findall(r"TDS\*(\d+)~", text)
    assert allowances > 0
    assert int(tds) == items - allowances + charges


# ---------------------------------------------------------------- broken variants

BROKEN = [
    # (golden file, what is wrong, replace this, with this, token expected in the error tree)
    ("850_amazon_ne.edi", "mandatory CSH removed", "CSH*Y~\n", "", "CSH"),
    ("850_amazon_ne.edi", "BEG02 not an Amazon PO type", "BEG*00*NE*", "BEG*00*SA*", "SA"),
    ("850_amazon_ne.edi", "invalid DTM date", "DTM*064*20250317", "DTM*064*20250231", "20250231"),
    (
        "850_amazon_ne.edi",
        "N101 not a listed entity (qualifier-matched)",
        "N1*ST**92",
        "N1*XX**92",
        "N1",
    ),
    ("850_amazon_ne.edi", "mandatory CTT removed", "CTT*3*40~\n", "", "CTT"),
    ("850_amazon_multi.edi", "PO103 unit not a code", "*EA*12.49*", "*ZZ*12.49*", "ZZ"),
    (
        "855_amazon.edi",
        "ACK01 unknown status (qualifier-matched)",
        "ACK*IR*6*EA",
        "ACK*XX*6*EA",
        "ACK",
    ),
    ("855_amazon.edi", "ACK02 without ACK03 (P0203)", "ACK*IR*6*EA", "ACK*IR*6", "P0203"),
    ("855_amazon.edi", "BAK02 not AC/AD", "BAK*00*AC*", "BAK*00*RJ*", "RJ"),
    ("855_amazon.edi", "PO1 line without its mandatory ACK loop", "ACK*IR*6*EA~\n", "", "ACK"),
    ("856_amazon_4010.edi", "HL03 not S/O/T/P/I", "HL*2*1*O*1", "HL*2*1*X*1", "HL"),
    (
        "856_amazon_4010.edi",
        "invalid ship date",
        "DTM*011*20250314",
        "DTM*011*20251314",
        "20251314",
    ),
    ("856_amazon_4010.edi", "SN1 quantity not numeric", "SN1**24*EA", "SN1**2A*EA", "2A"),
    (
        "856_amazon_5010.edi",
        "mandatory BSN removed",
        "BSN*00*ACME0000123*20250314*1530*0001~\n",
        "",
        "BSN",
    ),
    (
        "856_amazon_5010.edi",
        "TD5 transportation method not a code",
        "TD5**2*UPSN*M",
        "TD5**2*UPSN*QQ",
        "QQ",
    ),
    (
        "810_amazon.edi",
        "TDS with a decimal point (N2 is implied)",
        "TDS*64627",
        "TDS*646.27",
        "646.27",
    ),
    ("810_amazon.edi", "mandatory CUR removed", "CUR*BT*USD~\n", "", "CUR"),
    ("810_amazon.edi", "mandatory ITD removed", "ITD*01*3*2**30**60~\n", "", "ITD"),
    (
        "846_amazon.edi",
        "invalid BIA date",
        "*ACMEINV20250314*20250314*",
        "*ACMEINV20250314*2025031*",
        "2025031",
    ),
    ("846_amazon.edi", "QTY without quantity", "QTY*33*150*EA", "QTY*33", "QTY"),
    ("997_amazon.edi", "AK501 not a code (qualifier-matched)", "AK5*A", "AK5*Q", "AK5"),
    ("997_amazon.edi", "mandatory AK9 removed", "AK9*A*1*1*1~\n", "", "AK9"),
]


@pytest.mark.parametrize(
    ("name", "what", "old", "new", "token"), BROKEN, ids=[f"{b[0]}: {b[1]}" for b in BROKEN]
)
def test_broken_variant_is_reported_invalid(name, what, old, new, token):
    text = (GOLDEN / name).read_text()
    assert old in text, what
    broken = fix_se_counts(text.replace(old, new, 1))
    ok, _, errors = validate(io.StringIO(broken))
    assert ok is False, what
    assert token in json.dumps(errors), what


# ---------------------------------------------------------------- 997


def test_golden_997_against_pyx12_packaged_map():
    """pyx12's own 997 map knows only healthcare AK101/AK201 codes: our AK1*PR is rejected.

    The same document acknowledging a set the packaged map knows (RA / 820) passes it, so the
    functional and set ids are the only difference: the 997 is otherwise valid for the stock map.
    """
    text = (GOLDEN / "997_amazon.edi").read_text()
    assert "AK1*PR*" in text
    ok, _, errors = validate(io.StringIO(text), map_path=None)
    assert ok is False
    assert "AK1" in json.dumps(errors)
    ok, _, _ = validate(
        io.StringIO(text.replace("AK1*PR*", "AK1*RA*").replace("AK2*855*", "AK2*820*")),
        map_path=None,
    )
    assert ok is True
