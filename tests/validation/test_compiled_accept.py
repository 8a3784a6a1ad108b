"""The fast engine's per-segment shortcut (``SegNode.accept``) never hides a finding.

``SetValidator`` skips ``_check_segment`` for a segment its node's ``accept`` passes, so
``accept`` must be true only where ``_check_segment`` files nothing. Checked here on
every segment of every map with deterministic random elements: codes, values of every
data type around their length limits, odd characters, empty and absent elements,
composites and repetitions, before and after the element caches have seen them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from gateway.validation import default_maps
from gateway.validation.compiled import (
    ElementSpec,
    MapTables,
    SegNode,
    _check_segment,
    _segments,
    _Walker,
    compile_map,
)
from gateway.x12 import Composite, Repeated, Segment

#: Values that are valid for some elements and not for others.
_ODD = ("", " ", "A ", " A", "a b", "-1", "-1.5", "1.", ".5", "1.2.3", "1-2", "0", "007",
        "1O", "\u00e9", "\u00b2", "A\x07B", "X" * 81, "20261341", "20260229", "260101", "2561",
        "1200", "SKU-1", "A^B", "ZZ", "QQ")  # fmt: skip
_ALPHABET = "ABCXYZabc0123456789"
_SAMPLES_PER_NODE = 40


@pytest.fixture(autouse=True)
def validation_engine() -> str:
    """No run per engine: only the compiled tables are involved."""
    return "fast"


def _value(rng: random.Random, spec: ElementSpec) -> object:
    """A value for ``spec``: mostly plausible, sometimes off by a little or odd."""
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(_ODD)
    if roll < 0.13:
        return rng.choice((Composite(("A", "B")), Repeated(("A", "B"))))
    if spec.code_list and roll < 0.8:
        return rng.choice(spec.code_list)
    low, high = max(spec.min_len, 1), min(spec.max_len, 20)
    length = rng.randint(max(low - 1, 1), high + 1)
    dtype = spec.data_type
    if dtype in ("R",) or dtype.startswith("N"):
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        if dtype == "R" and length > 1 and rng.random() < 0.5:
            cut = rng.randrange(0, length)
            digits = f"{digits[:cut]}.{digits[cut:]}"
        return ("-" if rng.random() < 0.1 else "") + digits
    if dtype in ("DT", "D8"):
        return rng.choice(("20260101", "20261231", "20260230", "19991231", "2026"))
    if dtype == "TM":
        return rng.choice(("1200", "2359", "2400", "120000", "12"))
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def _samples(rng: random.Random, node: SegNode) -> Iterator[tuple[object, ...]]:
    specs = node.elements
    for _ in range(_SAMPLES_PER_NODE):
        values: list[object] = []
        for spec in specs:
            if isinstance(spec, ElementSpec):
                values.append(_value(rng, spec) if rng.random() < 0.8 else "")
            else:
                values.append(rng.choice(("", "A", Composite(("A", "B")))))
        size = rng.choice((len(values), len(values), rng.randint(0, len(values) + 1)))
        yield tuple(values[:size] + ["X"] * (size - len(values)))


def _files_nothing(tables: MapTables, node: SegNode, data: tuple[object, ...]) -> bool:
    walker = _Walker(tables, ">")
    walker.point(node.id, 1)  # a cursor, so that segment errors are filed too
    _check_segment(walker, node, Segment(node.id, data), tables.icvn)  # type: ignore[arg-type]
    return walker.errors == []


@pytest.mark.parametrize("map_file", default_maps().map_files())
def test_accept_only_what_check_segment_passes(map_file: str) -> None:
    """``accept`` true implies no finding, before and after the caches hold the values;
    and it is true for a good share of the valid samples (it is a shortcut in use)."""
    tables = compile_map(str(default_maps().map_dir), map_file)
    rng = random.Random(map_file)
    accepted = valid = 0
    for node in _segments(tables.root):
        for data in _samples(rng, node):
            before = node.accept(data)
            clean = _files_nothing(tables, node, data)
            after = node.accept(data)
            assert clean or not (before or after), (node.path, data)
            valid += clean
            accepted += after
    assert accepted >= valid * 0.9


def test_plain_po1_is_accepted() -> None:
    """A plainly valid PO1 of the inbound 850 takes the shortcut; a broken one does not."""
    maps = default_maps()
    tables = compile_map(str(maps.map_dir), "850.4010.xml")
    (po1,) = (node for node in _segments(tables.root) if node.id == "PO1")
    good = ("1", "18", "CA", "859.73", "PE", "UP", "350629566440", "BP", "B0KP8VFUQ2")
    assert po1.accept(good)
    assert not po1.accept(good[:8])  # P0809: PO108 without PO109
    assert not po1.accept(("1", "18", "CA", "859.", "PE", "UP", "350629566440"))
    assert not po1.accept(("1", "18", "CA", "859.73", "PE", "UP", Composite(("3", "5"))))
