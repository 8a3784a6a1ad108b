"""The fast engine (maps compiled into tables) agrees with the pyx12 reference engine.

For every sample in ``shared/samples/x12``, every golden file and thousands of
deterministic mutants, both engines must give the same report: per interchange, group
and transaction set, the same status and the same findings in the same order, equal in
every field (``Finding.to_dict``: level, code, message, place, element, bad value...), so
the 997, the TA1 and what ``acorn validate`` prints are the same whichever engine ran.
Differences that remain are listed in ``KNOWN_DIFFERENCES`` with their reason; there are
none at the moment.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import MUTANTS, corpus, generate
from gateway.validation import default_maps, validate
from gateway.validation.compiled import compile_map, validate_transaction
from gateway.x12 import parse
from tests.conftest import require_shared

GOLDEN = Path(__file__).resolve().parents[2] / "sandbox_fixtures" / "golden"
#: How many generated mutants the differential test runs: the issue's acceptance count
#: (at least 5,000) in every run; ``ACORN_DIFF_MUTANTS`` runs more.
MUTANT_COUNT = max(5000, int(os.environ.get("ACORN_DIFF_MUTANTS", "5000")))
MUTANT_SEED = 20261123
#: name -> reason, for inputs where the engines are allowed to differ (none known).
KNOWN_DIFFERENCES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def validation_engine() -> str:
    """The engines are named in every call here: no run per engine (tests/validation's
    conftest runs the others on both)."""
    return "both"


def difference(reference: Any, fast: Any, where: str = "report") -> str | None:
    """Where two reports (``to_dict`` forms) first differ, and how; None when equal."""
    if isinstance(reference, dict) and isinstance(fast, dict) and reference.keys() == fast.keys():
        for key in reference:
            found = difference(reference[key], fast[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(reference, list) and isinstance(fast, list) and len(reference) == len(fast):
        for index, (ref, got) in enumerate(zip(reference, fast, strict=True)):
            found = difference(ref, got, f"{where}[{index}]")
            if found:
                return found
        return None
    if reference == fast:
        return None
    return f"{where}:\n  pyx12: {reference!r}\n  fast:  {fast!r}"


def assert_same(data: bytes, name: str) -> None:
    """Both engines give the same report on ``data``: every interchange, group and set
    with the same status and the same findings, field by field and in the same order
    (unless listed as known)."""
    reference = validate(data, name=name, engine="pyx12").to_dict()
    fast = validate(data, name=name, engine="fast").to_dict()
    if name in KNOWN_DIFFERENCES:
        return
    found = difference(reference, fast)
    assert found is None, f"{name}: {found}"


def _files() -> list[Path]:
    shared = require_shared()
    return sorted((shared / "samples" / "x12").iterdir()) + sorted(GOLDEN.glob("*/*.edi"))


def test_samples_and_golden_files_agree() -> None:
    """Every shared sample and every golden file: the same reports."""
    files = _files()
    assert len(files) > 50
    for path in files:
        assert_same(path.read_bytes(), str(path))


@pytest.mark.parametrize("seed", range(4))
def test_corpus_mutants_agree(seed: int) -> None:
    """The corpus mutants of bench.corpus, on several seeds: the same reports."""
    text = generate(seed, sets=2, max_lines=6).decode()
    for mutant in MUTANTS:
        assert_same(mutant.mutate(text).encode(), f"{mutant.name} seed {seed}")


# -- the mutant generator ------------------------------------------------------------------

_VALUES = ("", "X" * 81, "1", "QQ", "20261341", "2026021", "1O", "2561", "-1.5", "A>B",
           "AB ", "0", "99999999999999999999", "ZZ", "a b", "12.", ".5")  # fmt: skip
_SEGMENTS = ("ZZZ*1", "REF*CR*X", "DTM*002*20260101", "N1*ST**92*X", "CTT*1", "PID*F****X",
             "N1*ZZ*X", "SE*1*1", "ST*850*1", "PO1*1*1*EA*1**UP*1", "HL*1**S", "LIN**UP*1",
             "BEG*00*NE*1**20260101", "AK9*A*1*1*1")  # fmt: skip


def _bases() -> list[str]:
    bases = [d.decode() for d in corpus(MUTANT_SEED, 12, max_lines=4)]
    bases += [p.read_text() for p in sorted(GOLDEN.glob("*/*.edi"))]
    return bases


def mutate(rng: random.Random, text: str) -> str:
    """One deterministic random defect in the body of an interchange (the ISA is kept)."""
    head, _, rest = text.partition("~")
    segments = rest.split("~")
    body = [i for i, s in enumerate(segments) if s.strip() and not s.strip().startswith(
        ("GS", "GE", "IEA"))]  # fmt: skip
    if not body:
        return text
    i = rng.choice(body)
    seg = segments[i]
    kind = rng.randrange(10)
    if kind == 0:
        del segments[i]
    elif kind == 1:
        segments.insert(i, seg)
    elif kind == 2 and i + 1 < len(segments):
        segments[i], segments[i + 1] = segments[i + 1], segments[i]
    elif kind == 3:
        segments.insert(i + 1, "\n" + rng.choice(_SEGMENTS))
    elif kind in (4, 5, 6):
        parts = seg.split("*")
        if len(parts) > 1:
            j = rng.randrange(1, len(parts) + (1 if kind == 6 else 0))
            value = rng.choice(_VALUES)
            if j == len(parts):
                parts.append(value)
            else:
                parts[j] = value
        segments[i] = "*".join(parts)
    elif kind == 7:
        parts = seg.split("*")
        segments[i] = "*".join(parts[: rng.randrange(1, max(2, len(parts)))])
    elif kind == 8:
        stars = [k for k, c in enumerate(seg) if c == "*"]
        if stars:
            k = rng.choice(stars)
            seg = seg[:k] + rng.choice(("", "**", ">", "^")) + seg[k + 1 :]
        segments[i] = seg
    else:
        segments = segments[: rng.randrange(1, len(segments))]
    return head + "~" + "~".join(segments)


def mutants(count: int, seed: int = MUTANT_SEED) -> Iterator[tuple[str, bytes]]:
    """``count`` mutants, each one or two defects applied to a base document."""
    rng = random.Random(seed)
    bases = _bases()
    for n in range(count):
        text = rng.choice(bases)
        for _ in range(rng.choice((1, 1, 2))):
            text = mutate(rng, text)
        yield f"mutant {n} (seed {seed})", text.encode()


def test_generated_mutants_agree() -> None:
    """MUTANT_COUNT deterministic mutants: the same reports."""
    for name, data in mutants(MUTANT_COUNT):
        assert_same(data, name)


#: Separators other than ``*``, ``>`` and ``~`` (they appear in some messages).
_SEPARATORS = (("|", ":", "\n"), ("^", "\\", "'"), ("*", ":", "~"))
SEPARATOR_MUTANTS = 200


def redelimited(count: int, seed: int = MUTANT_SEED) -> Iterator[tuple[str, bytes]]:
    """``count`` mutants of the ``* > ~`` bases, written with other separators."""
    rng = random.Random(seed)
    bases = [text for text in _bases() if text[103:106] == "*>~"]
    for n in range(count):
        text = rng.choice(bases)
        for _ in range(rng.choice((1, 2))):
            text = mutate(rng, text)
        element, component, segment = rng.choice(_SEPARATORS)
        text = text.replace("*", element).replace(">", component).replace("~", segment)
        yield f"redelimited mutant {n} (seed {seed})", text.encode()


def test_engines_agree_under_other_separators() -> None:
    """Set by set, the engines themselves (what ``validate`` calls for each set) give the
    same findings whatever the interchange's separators: some messages print a segment
    with them (an empty segment, an HL the walk cannot place), so the fast engine is given
    the element and segment separators as well as the component and repetition ones."""
    maps = default_maps()
    compared = 0
    for name, data in redelimited(SEPARATOR_MUTANTS):
        for interchange in parse(data).interchanges:
            d = interchange.delimiters
            for group in interchange.groups:
                isa, gs = interchange.header, group.header
                choice = maps.choose(isa.text(12), gs.text(8), gs.text(1))
                if choice is None:
                    continue
                tables = compile_map(str(maps.map_dir), choice.map_file)
                for txn in group.transactions:
                    reference = maps.validate_transaction(choice, isa, gs, d, txn)
                    fast = validate_transaction(
                        txn, tables, component=d.component, repetition=d.repetition,
                        element=d.element, segment=d.segment,
                    )  # fmt: skip
                    found = difference([f.to_dict() for f in reference],
                                       [f.to_dict() for f in fast], "findings")  # fmt: skip
                    assert found is None, f"{name}, set {txn.control_number}: {found}"
                    compared += 1
    assert compared > SEPARATOR_MUTANTS


def test_compiled_engine_does_not_import_pyx12() -> None:
    """The fast engine stands on the maps alone: compiled.py imports no pyx12 module."""
    import ast

    import gateway.validation.compiled as compiled

    tree = ast.parse(Path(compiled.__file__).read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
    assert not [name for name in imported if name.split(".")[0] == "pyx12"]
