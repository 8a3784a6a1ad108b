"""Property: any string in any string field of an ERP document either renders to X12 that
reads back to the same document, or is refused before rendering with its JSON path; never
a corrupt envelope.

For each document type a golden document is the base; hypothesis picks one of its JSON
string leaves (texts, codes, dates, decimals written as strings) and puts any string there:
delimiters, control characters, non-ASCII, overlong.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.erp import parse_document
from gateway.errors import ErpDocumentError
from gateway.mapping import SET_OF_DOCUMENT, translate
from gateway.validation import validate
from gateway.x12 import parse
from tests.goldens import GOLDEN, release_of, render_golden

#: The base document of each set: the first golden file (the first PO of an 850 array).
SETS = ["850", "855", "856", "810", "846"]


def _base(set_id: str) -> tuple[dict[str, Any], str]:
    path = sorted((GOLDEN / set_id).glob("*.json"))[0]
    data = json.loads(path.read_text())
    document = data[0] if isinstance(data, list) else data
    document.pop("source", None)  # inbound metadata: not part of the X12
    return document, release_of(path.stem)


def _string_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every JSON path to a string leaf."""
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _string_paths(value, (*path, key))]
    if isinstance(node, list):
        return [p for index, value in enumerate(node) for p in _string_paths(value, (*path, index))]
    return [path] if isinstance(node, str) else []


def _json_path(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _set(document: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


ANY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("AZaz09 *~>^`\\|!\r\n\t\x00\x1féÉ€-./"), max_size=40),
    st.text(alphabet=st.characters(codec="ascii"), min_size=20, max_size=120),
)


def _check(set_id: str, path: tuple[Any, ...], value: str) -> str:
    """Put ``value`` at ``path`` of the set's base document; return ``refused`` or
    ``rendered`` after asserting the property for that case."""
    base, release = _base(set_id)
    changed = _set(base, path, value)
    try:
        document = parse_document(json.dumps(changed))
    except ErpDocumentError as refused:
        paths = {problem.path for problem in refused.problems}
        where = _json_path(path)
        assert any(p == where or where.startswith(p + ".") or where.startswith(p + "[")
                   or p.startswith(where) for p in paths), (where, refused.problems)  # fmt: skip
        return "refused"
    text = render_golden(document, release)
    tree = parse(text)
    assert tree.all_issues() == [], tree.all_issues()
    (interchange,) = tree.interchanges
    (group,) = interchange.groups
    (transaction,) = group.transactions
    assert SET_OF_DOCUMENT[document.type] == transaction.set_id
    assert translate(transaction) == document
    report = validate(text)
    assert report.accepted, [f.message for f in report.all_findings()]
    return "rendered"


@pytest.mark.parametrize("set_id", SETS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_string_renders_exactly_or_is_refused_with_its_path(
    set_id: str, data: st.DataObject
) -> None:
    """Refused at the mutated JSON path, or rendered, re-read and validated unchanged."""
    path = data.draw(st.sampled_from(_string_paths(_base(set_id)[0])), label="path")
    value = data.draw(ANY_TEXT, label="value")
    event(_check(set_id, path, value))


@pytest.mark.parametrize("set_id", SETS)
def test_every_string_field_takes_plain_text_or_refuses_it(set_id: str) -> None:
    """Each string leaf once with a plain X12-safe value: some fields render it (free text),
    the others refuse it at their path (codes, dates, numbers); none corrupts anything."""
    outcomes = [_check(set_id, path, "AB 12") for path in _string_paths(_base(set_id)[0])]
    assert "rendered" in outcomes and "refused" in outcomes


def test_the_property_covers_every_rendered_document_type() -> None:
    """Each outbound document type (and the PO) has a golden base with string fields."""
    assert {SET_OF_DOCUMENT[_base(s)[0]["type"]] for s in SETS} == set(SETS)
    assert all(_string_paths(_base(s)[0]) for s in SETS)
