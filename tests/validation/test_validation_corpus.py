"""A generated corpus of Amazon-style 850s is accepted; each mutant is rejected with its code.

The corpus and the mutants come from ``bench/corpus.py``, deterministic from a seed. The
expected code of each mutant is the X12 997 code for that defect (AK304 for a segment,
AK403 for an element, AK502 for the set), asserted code by code, in the report and in the
997 built from it.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from bench.corpus import MUTANTS, Mutant, corpus, generate
from gateway.validation import acknowledge, validate
from gateway.x12 import parse, serialize

CORPUS_SEED = 20261123


@pytest.mark.parametrize("index", range(30))
def test_generated_850_is_accepted(index: int) -> None:
    """Each generated interchange (1-3 POs of 1-20 lines) is accepted with no finding."""
    document = corpus(CORPUS_SEED, 30)[index]
    report = validate(document)
    assert report.all_findings() == []
    assert report.accepted
    sets = [t for g in report.interchanges[0].groups for t in g.transactions]
    assert sets and all(t.set_id == "850" and t.status == "accepted" for t in sets)


def test_generated_corpus_is_deterministic() -> None:
    """The same seed gives byte-identical documents; another seed gives others."""
    assert corpus(CORPUS_SEED, 5) == corpus(CORPUS_SEED, 5)
    assert corpus(CORPUS_SEED, 5) != corpus(CORPUS_SEED + 1, 5)


def test_accepted_corpus_gets_an_accepting_997() -> None:
    """The 997 for a clean group says AK9*A with the set counts and AK5*A per set."""
    document = generate(4242, sets=3, max_lines=5)
    report = validate(document)
    (ack,) = acknowledge(report.interchanges[0], next_control_number=7, when=datetime(2026, 1, 2))
    body = ack.groups[0].transactions[0].segments
    assert [s.tag for s in body] == ["AK1", "AK2", "AK5", "AK2", "AK5", "AK2", "AK5", "AK9"]
    assert [s.text(1) for s in body if s.tag == "AK5"] == ["A", "A", "A"]
    assert body[-1].elements == ("A", "3", "3", "3")


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_rejected_with_its_code(mutant: Mutant) -> None:
    """The mutant's set is rejected with the expected finding, and the 997 carries the code."""
    clean = generate(5150, sets=1, max_lines=4).decode("ascii")
    assert validate(clean.encode()).accepted
    mutated = mutant.mutate(clean)
    assert mutated != clean
    report = validate(mutated.encode())
    expected = mutant.expected
    findings = report.all_findings()
    matches = [
        f
        for f in findings
        if f.level == expected.level
        and f.code == expected.code
        and f.segment == expected.segment
        and (expected.element is None or f.element == expected.element)
    ]
    assert matches, [(f.level, f.code, f.segment, f.element, f.message) for f in findings]
    txn = report.interchanges[0].groups[0].transactions[0]
    assert txn.status == "rejected"

    (ack,) = acknowledge(report.interchanges[0], next_control_number=1, when=datetime(2026, 1, 2))
    segments = ack.groups[0].transactions[0].segments
    ak5 = next(s for s in segments if s.tag == "AK5")
    assert ak5.text(1) == "R"
    if expected.level == "transaction":
        assert expected.code in ak5.elements[1:]
    elif expected.level == "segment":
        assert any(
            s.tag == "AK3" and s.text(1) == expected.segment and s.text(4) == expected.code
            for s in segments
        )
    else:
        ak3_index = next(
            i for i, s in enumerate(segments)
            if s.tag == "AK3" and s.text(1) == expected.segment and s.text(4) == "8"
        )  # fmt: skip
        following = []
        for s in segments[ak3_index + 1 :]:
            if s.tag != "AK4":
                break
            following.append(s)
        assert any(
            s.text(1) == str(expected.element) and s.text(3) == expected.code for s in following
        ), following
    assert segments[-1].tag == "AK9" and segments[-1].text(1) == "R"


def test_mutated_997_round_trips_through_the_codec() -> None:
    """A 997 with AK3/AK4 loops serialises and parses back to the same tree."""
    clean = generate(77, sets=1, max_lines=3).decode("ascii")
    mutated = MUTANTS[3].mutate(clean)
    (ack,) = acknowledge(validate(mutated.encode()).interchanges[0], next_control_number=3,
                         when=datetime(2026, 1, 2))  # fmt: skip
    assert parse(serialize(ack)).interchanges == (ack,)
