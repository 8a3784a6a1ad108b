"""The golden ERP exports of every outbound set (855, 856, 810, 846), all held to the same
four promises: the JSON is canonical, it renders byte for byte to the expected interchange,
the interchange validates with no finding, and it reads back to the same document.

The 856 is held to the last two at both releases it is traded at.
"""

from __future__ import annotations

import pytest

from gateway.erp import document_json
from gateway.mapping import translate
from gateway.mapping.render import SETS_AT_5010
from gateway.validation import validate
from gateway.x12 import parse
from tests.goldens import GOLDEN, golden_names, load_document, release_of, render_golden

OUTBOUND = ("855", "856", "810", "846")
CASES = [(set_id, name) for set_id in OUTBOUND for name in golden_names(set_id)]
RELEASE_CASES = [
    (set_id, name, release)
    for set_id, name in CASES
    for release in (("004010", "005010") if set_id in SETS_AT_5010 else (release_of(name),))
]


def _id(case: tuple[str, ...]) -> str:
    return "/".join(case)


@pytest.mark.parametrize(("set_id", "minimum"), [("855", 10), ("856", 10), ("810", 10), ("846", 3)])
def test_enough_golden_exports(set_id: str, minimum: int) -> None:
    """At least ten golden exports per set (three for the 846); 856 at both releases."""
    names = golden_names(set_id)
    assert len(names) >= minimum
    if set_id == "856":
        assert {release_of(n) for n in names} == {"004010", "005010"}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden_json_is_canonical(case: tuple[str, str]) -> None:
    """Each golden export is written exactly as document_json() writes it."""
    set_id, name = case
    text = (GOLDEN / set_id / f"{name}.json").read_text()
    assert document_json(load_document(set_id, name)) == text


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden_export_renders_exactly_to_its_interchange(case: tuple[str, str]) -> None:
    """The export rendered at its release is the expected interchange, byte for byte."""
    set_id, name = case
    expected = (GOLDEN / set_id / f"{name}.edi").read_bytes()
    assert render_golden(load_document(set_id, name), release_of(name)) == expected


@pytest.mark.parametrize("case", RELEASE_CASES, ids=_id)
def test_rendered_interchange_validates_and_reads_back(case: tuple[str, str, str]) -> None:
    """Rendered, the export is accepted by the maps with no finding, and X12 -> JSON gives
    the same document back (canonical JSON included)."""
    set_id, name, release = case
    document = load_document(set_id, name)
    text = render_golden(document, release)
    report = validate(text)
    assert [f.to_dict() for f in report.all_findings()] == []
    (transaction,) = parse(text).interchanges[0].groups[0].transactions
    back = translate(transaction)
    assert back == document
    assert document_json(back) == document_json(document)
