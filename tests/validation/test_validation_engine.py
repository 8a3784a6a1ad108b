"""The pyx12-driven engine: map choice by (ISA12, GS08, GS01), qualifiers, setup errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import generate
from gateway.errors import ValidationSetupError
from gateway.validation import MapSet, validate
from tests.conftest import FIXTURES


def test_isa12_00400_uses_the_004010_maps() -> None:
    """An Amazon-vendor file with ISA12 00400 and GS08 004010 validates like 00401.

    pyx12's own reader refuses 00400; the engine hands pyx12 a synthetic 00401 envelope.
    """
    text = (FIXTURES / "x12" / "850_amazon_ne.edi").read_bytes()
    assert text[84:89] == b"00401"
    old = text[:84] + b"00400" + text[89:]
    report = validate(old)
    assert report.all_findings() == []
    assert report.interchanges[0].header[11] == "00400"
    broken = old.replace(b"CSH*", b"CSX*", 1)
    assert not validate(broken).accepted


def test_unknown_release_is_version_not_supported() -> None:
    """GS08 without a map for a mapped GS01: AK905 2 and every set AK502 1."""
    document = generate(3, sets=2, max_lines=2).replace(b"*X*004010~", b"*X*003060~")
    report = validate(document)
    group = report.interchanges[0].groups[0]
    assert [(f.code, f.element) for f in group.findings] == [("2", 8)]
    assert "003060" in group.findings[0].message
    assert [t.set_codes for t in group.transactions] == [["1"], ["1"]]
    assert group.status == "rejected"


def test_unknown_functional_group_is_not_supported() -> None:
    """A GS01 no map knows (an 860 change order group): AK905 1."""
    document = generate(4, sets=1, max_lines=2).replace(b"GS*PO*", b"GS*PC*").replace(
        b"ST*850*", b"ST*860*"
    )
    group = validate(document).interchanges[0].groups[0]
    assert [f.code for f in group.findings] == ["1"]


def test_997_with_an_implementation_suffix_is_read_as_its_release() -> None:
    """A 997 whose GS08 carries a suffix (005010X230) is validated with the 997 map."""
    maps = MapSet()
    assert maps.choose("00501", "005010X230", "FA") == maps.choose("00501", "005010", "FA")
    assert maps.choose("00401", "004010VICS", "PO") is None


def test_unlisted_qualifier_on_a_matched_segment_is_an_invalid_code() -> None:
    """N1*ZZ where the map lists ST/BT/...: AK4 element 01 code 7 with the data element
    number, not AK3 'unrecognized segment' (pyx12-maps.md gotcha 6), and no echo of it as
    a missing mandatory segment."""
    document = generate(6, sets=1, max_lines=2).replace(b"N1*ST*", b"N1*ZZ*")
    (finding,) = validate(document).all_findings()
    assert (finding.level, finding.code, finding.segment, finding.element) == (
        "element", "7", "N1", 1,
    )  # fmt: skip
    assert finding.element_ref == "98" and finding.bad_value == "ZZ"


def test_missing_map_directory_is_a_setup_error(tmp_path: Path) -> None:
    """A map directory without maps.xml & co. raises ValidationSetupError naming the files."""
    with pytest.raises(ValidationSetupError, match=r"maps\.xml"):
        MapSet(tmp_path)
