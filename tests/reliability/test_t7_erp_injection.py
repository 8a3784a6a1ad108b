"""T7, ERP JSON injection (reliability.md section 4; policy: delimiter or control characters
in ERP data are refused before any control number is used, the error names the JSON path).

Hypothesis puts hostile values into the 855, 856 and 810 an ERP exports: any string leaf gets
the X12 delimiters ``* ~ > ^ :``, ``\\r \\n \\0 \\x1c``, non-ASCII, emoji or an overlong text;
any numeric leaf gets ``NaN``, ``Infinity``, ``1e309``, ``-0`` and the like as raw JSON. Each
document is either refused with the JSON path of the value, or rendered into an interchange
that, re-split with the separators its own ISA declares (an independent reading, not the
writer's), gives exactly the mapper's segments, with an ISA of 106 characters, SE01, GE01 and
IEA01 exact, and that pyx12 accepts with our maps. Then the same kind of documents go through
the pipeline (ERP outbox to the partner) on SQLite and PostgreSQL: a refused export uses no
control number and its errors file names the path; a rendered one reaches the partner once.

10,000 examples per set at the full scale (``make reliability``), 150 in ``make test``.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.erp import parse_document
from gateway.errors import ErpDocumentError
from gateway.mapping import SET_OF_DOCUMENT
from gateway.mapping.render import mapping_module
from gateway.validation import validate
from gateway.x12 import Composite
from tests.goldens import GOLDEN, release_of, render_golden
from tests.pipeline.pipeline_sim import (
    AmazonPartner,
    Erp,
    GatewayHome,
    process_until_quiet,
    read_store,
    visible_files,
)
from tests.reliability.battery import Battery, scaled

SETS = ["855", "856", "810"]
EXAMPLES = scaled(150, 10_000)
HOSTILE = "*~>^:\r\n\x00\x1c"

#: Values a hostile ERP puts in a string field.
HOSTILE_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(f"AZaz09 -./{HOSTILE}éÉ€😀\U0001f4a9\u200b"), max_size=40),
    st.builds(lambda a, d, b: a + d + b, st.text(alphabet="ABC123 ", max_size=8),
              st.sampled_from(HOSTILE), st.text(alphabet="ABC123 ", max_size=8)),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="ascii"), min_size=80, max_size=400),  # overlong
)
#: Raw JSON a hostile ERP puts where a number (or a decimal written as a string) goes.
HOSTILE_NUMBER = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e309", "-1e309", "-0", "-0.0", "1e-400", "0.0000001",
    '"NaN"', '"Infinity"', '"1e309"', '"-0"', '"0x10"', '"1,5"', '" 12"', "1" + "0" * 40,
    "-1", "12.345678901234567890", "true", "null", '""', "[]", "{}",
])  # fmt: skip


def _base(set_id: str) -> tuple[dict[str, Any], str]:
    path = sorted((GOLDEN / set_id).glob("*.json"))[0]
    document = json.loads(path.read_text())
    return document, release_of(path.stem)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return [(path, node)]


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _json_path(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


_SENTINEL = "\u0001SENTINEL\u0001"


def _with_value(document: dict[str, Any], path: tuple[Any, ...], raw_json: str) -> str:
    """The document as JSON text with the leaf at ``path`` replaced by ``raw_json``."""
    changed = copy.deepcopy(document)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _SENTINEL
    return json.dumps(changed).replace(json.dumps(_SENTINEL), raw_json)


def _expected_elements(segment: Any) -> list[list[str]]:
    """The mapper's segment as the element and component strings an independent reader
    should find: composites split into components, trailing empties dropped."""
    out = [[c for c in e.components] if isinstance(e, Composite) else [e]
           for e in segment.elements]  # fmt: skip
    for parts in out:
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
    while out and out[-1] in ([""], []):
        out.pop()
    return out


def check_rendered(document: Any, release: str) -> None:
    """Render ``document`` (fixed envelope) and check the interchange with an independent
    reading: ISA 106 characters; re-split by the separators the ISA declares (element at
    offset 3, component at 104, terminator at 105) it is exactly ISA, GS, ST, the mapper's
    segments, SE, GE, IEA, with SE01, GE01 and IEA01 exact; pyx12 accepts it."""
    set_id = SET_OF_DOCUMENT[document.type]
    data = render_golden(document, release).replace(b"~\n", b"~")
    text = data.decode("utf-8")
    element, component, terminator = text[3], text[104], text[105]
    assert text.index(terminator) == 105, "the ISA is not 106 characters"
    segments = text.split(terminator)
    assert segments[-1] == "", "bytes after the last terminator"
    split = [s.split(element) for s in segments[:-1]]
    tags = [s[0] for s in split]
    assert tags[:3] == ["ISA", "GS", "ST"] and tags[-3:] == ["SE", "GE", "IEA"], tags
    body = mapping_module(set_id).from_erp(document, release=release)
    assert [s[0] for s in split[3:-3]] == [s.tag for s in body]
    for read, built in zip(split[3:-3], body, strict=True):
        assert [e.split(component) for e in read[1:]] == _expected_elements(built), built.tag
    assert int(split[-3][1]) == len(body) + 2  # SE01 counts ST to SE
    assert split[-3][2] == split[2][2]  # SE02 = ST02
    assert split[-2][1] == "1" and split[-1][1] == "1"  # GE01 sets, IEA01 groups
    report = validate(data, engine="pyx12")
    assert report.accepted, [f.message for f in report.all_findings()]


def _outcome(set_id: str, raw_json: str, path: tuple[Any, ...], *, numeric: bool) -> str:
    """Parse; refused at ``path`` (or a parent or child of it; at ``$`` only for a raw JSON
    number the JSON reader itself refuses), or rendered and checked."""
    _, release = _base(set_id)
    try:
        document = parse_document(raw_json)
    except ErpDocumentError as refused:
        where = _json_path(path)
        paths = {problem.path for problem in refused.problems}
        assert any(p == where or where.startswith((p + ".", p + "[")) or p.startswith(where)
                   or (numeric and p == "$") for p in paths), (where, refused.problems)  # fmt: skip
        return "refused"
    check_rendered(document, release)
    return "rendered"


@pytest.mark.battery("T7")
@pytest.mark.parametrize("set_id", SETS)
def test_hostile_values_are_refused_at_their_path_or_rendered_into_a_sound_interchange(
    set_id: str, battery: Battery
) -> None:
    """Any hostile value in any leaf of an 855, 856 or 810: refused with its JSON path, or
    rendered exactly (independent re-split, exact counts, pyx12 accepts); never a corrupt
    envelope. Hypothesis runs ``EXAMPLES`` documents per set."""
    base, _release = _base(set_id)
    leaves = _leaves(base)
    strings = [p for p, v in leaves if isinstance(v, str)]
    numbers = [p for p, v in leaves if _numeric(v)]
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        numeric = data.draw(st.booleans(), label="numeric")
        if numeric:
            path = data.draw(st.sampled_from(numbers), label="path")
            raw = data.draw(HOSTILE_NUMBER, label="value")
        else:
            path = data.draw(st.sampled_from(strings), label="path")
            raw = json.dumps(data.draw(HOSTILE_TEXT, label="value"))
        outcomes[_outcome(set_id, _with_value(base, path, raw), path, numeric=numeric)] += 1

    run()
    assert outcomes["refused"] and outcomes["rendered"], outcomes  # both branches exercised
    battery.record(sum(outcomes.values()), what=f"hostile {set_id} documents",
                   refused=outcomes["refused"], rendered=outcomes["rendered"],
                   corrupt_envelopes=0)  # fmt: skip


def _hostile_export(rng: random.Random, document: dict[str, Any]) -> tuple[str, str]:
    """A JSON text of ``document`` with one hostile string leaf (PO number left alone, so
    every export answers its own PO) and the path changed."""
    paths = [p for p, v in _leaves(document) if isinstance(v, str) and p != ("po_number",)]
    path = rng.choice(paths)
    value = rng.choice(["A*B", "A~B", "A>B", "A^B", "A:B", "A\rB", "A\nB", "A\x00B", "A\x1cB",
                        "Ü€😀", "X" * 500, "plain text"])  # fmt: skip
    return _with_value(document, path, json.dumps(value)), _json_path(path)


@pytest.mark.battery("T7")
def test_hostile_exports_through_the_pipeline_use_no_control_number_unless_rendered(
    gateway_home: GatewayHome, battery: Battery
) -> None:
    """Exports with a hostile value in one field go through the ERP outbox: each is rejected
    (errors file naming a JSON path, no ISA13/GS06 consumed) or rendered and sent once, and
    the ISA13s the partner sees are exactly 1..N with no gap (rejected exports took none)."""
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=7), Erp(home)
    count = scaled(12, 60)
    amazon.send_purchase_orders(count, max_lines=2)
    process_until_quiet(home)
    assert len(amazon.pick_up()) == count  # the 997s, ISA13 1..count
    orders = erp.take_orders()
    rng = random.Random(1_309)
    exported: dict[str, str] = {}
    for index, order in enumerate(orders):
        kind = rng.choice(["855", "856", "810"])
        document = {"855": erp.acknowledgment, "856": erp.ship_notice,
                    "810": erp.invoice}[kind](order)  # fmt: skip
        raw, where = _hostile_export(rng, json.loads(document.model_dump_json()))
        if index % 4 == 0:  # every fourth export untouched: the rendered side is exercised
            raw, where = document.model_dump_json(), ""
        name = erp.file_name(kind, order.po_number)
        (home.erp_outbox / f"{name}.tmp").write_text(raw, encoding="utf-8")
        (home.erp_outbox / f"{name}.tmp").rename(home.erp_outbox / name)
        exported[name] = where
    process_until_quiet(home)

    view = read_store(home.database_url)
    states = {e.file_name: e.state for e in view.exchanges if e.channel == "erp"}
    lost = sum(states.get(name) not in ("rendered", "rejected") for name in exported)
    rejected = [name for name in exported if states.get(name) == "rejected"]
    for name in rejected:
        errors = json.loads((home.rejected / f"{name}.errors.json").read_text("utf-8"))
        assert all(p["path"].startswith("$") for p in errors["problems"]), errors
    received = amazon.pick_up()
    rendered = len(exported) - len(rejected) - lost
    isa13 = Counter(f.isa13 for f in received)
    twice = sum(c - 1 for c in isa13.values())
    for got in received:
        assert validate(got.data).accepted, got.name
    numbers = sorted(int(f.isa13) for f in received)
    assert numbers == list(range(count + 1, count + 1 + rendered)), numbers  # none skipped
    assert view.counters["amazon.isa13"] == count + rendered
    assert visible_files(home.processing) == []
    assert rejected and rendered, (len(rejected), rendered)
    battery.record(len(exported), lost=lost, delivered_twice=twice,
                   what="ERP exports with one hostile field", rejected=len(rejected),
                   rendered=rendered)  # fmt: skip
