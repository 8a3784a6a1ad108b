"""997 Functional Acknowledgment <-> FunctionalAck.

Contract (issue 3): ``to_erp`` reads AK1, the AK2/AK3/AK4/AK5 loops (AK401 simple or
composite position>component) and AK9, statuses through ``ACK_STATUSES``; ``from_erp`` is
its exact reverse. On the 997s that ``gateway.validation.acknowledge`` builds for broken
850s (bench.corpus MUTANTS), ``to_erp`` reflects the report's statuses and codes. A
malformed 997 is a MappingError naming the segment position and element.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from bench.corpus import (
    MUTANTS,
    Mutant,
    _set_element,
    generate,
    interchange,
    purchase_order_set,
)
from gateway.erp import (
    AcknowledgedSet,
    ElementError,
    FunctionalAck,
    SegmentError,
    Source,
    document_json,
    parse_document,
)
from gateway.errors import MappingError
from gateway.mapping import render, translate, ts997
from gateway.validation import GroupReport, acknowledge, validate
from gateway.x12 import Composite, Segment, Transaction, build_transaction, parse, serialize
from tests.conftest import FIXTURES
from tests.goldens import AMAZON, VENDOR, WHEN, load_document, render_golden

#: A 997 with every element the mapping carries: a rejected set with a segment error
#: carrying element errors (one of them on a component), an accepted set, group codes.
DETAILED = FunctionalAck(
    functional_id="PO", group_control_number="4711", status="partially_accepted",
    sets_included=3, sets_received=2, sets_accepted=1, codes=["5"],
    transactions=[
        AcknowledgedSet(
            set_id="850", control_number="0001", status="rejected", codes=["5"],
            segments=[
                SegmentError(segment_id="BEG", position=2, code="8", elements=[
                    ElementError(position=5, reference="373", code="8", bad_value="2026021"),
                    ElementError(position=3, reference="324", code="5",
                                 bad_value="PPPPPPPPPPPPPPPPPPPPPPP"),
                ]),
                SegmentError(segment_id="ZZZ", position=4, code="1"),
                SegmentError(segment_id="CTP", position=12, loop_id="PO1", code="8", elements=[
                    ElementError(position=5, component=2, code="7", bad_value="XX"),
                ]),
            ],
        ),
        AcknowledgedSet(set_id="850", control_number="0002", status="accepted"),
    ],
)  # fmt: skip


def _first_transaction(data: bytes) -> Transaction:
    return parse(data).interchanges[0].groups[0].transactions[0]


def _render(document: FunctionalAck, release: str = "004010") -> bytes:
    interchange = render(document, sender=VENDOR, receiver=AMAZON, interchange_control_number=9,
                         group_control_number=9, when=WHEN, release=release)  # fmt: skip
    return serialize(interchange)


# -- reading and writing -----------------------------------------------------------------------


def test_amazon_997_is_read() -> None:
    """Amazon's 997 for an 855 group: AK1 PR, one accepted set, AK9 A 1 1 1."""
    transaction = _first_transaction((FIXTURES / "x12" / "997_amazon.edi").read_bytes())
    source = Source(partner="amazon", sender="ZZ:AMAZON", interchange_control_number="100000103",
                    group_control_number="100103", transaction_control_number="0001")  # fmt: skip
    ack = ts997.to_erp(transaction, source=source)
    assert ack == FunctionalAck(
        functional_id="PR", group_control_number="200201", status="accepted",
        sets_included=1, sets_received=1, sets_accepted=1,
        transactions=[AcknowledgedSet(set_id="855", control_number="0001", status="accepted")],
        source=source,
    )  # fmt: skip
    assert translate(transaction, source) == ack
    assert ts997.from_erp(ack) == list(transaction.segments)


def test_detailed_997_layout() -> None:
    """AK3 per segment error followed by its AK4s; AK401 is a composite when the error is on
    a component; AK5 and AK9 carry their codes."""
    assert ts997.from_erp(DETAILED) == [
        Segment("AK1", ("PO", "4711")),
        Segment("AK2", ("850", "0001")),
        Segment("AK3", ("BEG", "2", "", "8")),
        Segment("AK4", ("5", "373", "8", "2026021")),
        Segment("AK4", ("3", "324", "5", "PPPPPPPPPPPPPPPPPPPPPPP")),
        Segment("AK3", ("ZZZ", "4", "", "1")),
        Segment("AK3", ("CTP", "12", "PO1", "8")),
        Segment("AK4", (Composite(("5", "2")), "", "7", "XX")),
        Segment("AK5", ("R", "5")),
        Segment("AK2", ("850", "0002")),
        Segment("AK5", ("A",)),
        Segment("AK9", ("P", "3", "2", "1", "5")),
    ]


@pytest.mark.parametrize("release", ["004010", "005010"])
def test_functional_ack_round_trips_and_validates(release: str) -> None:
    """FunctionalAck -> 997 -> FunctionalAck is the identity, and the 997 is accepted by the
    997 map at 004010 and 005010."""
    data = _render(DETAILED, release)
    report = validate(data)
    assert report.all_findings() == [] and report.accepted
    assert ts997.to_erp(_first_transaction(data)) == DETAILED


def test_functional_ack_json_round_trips() -> None:
    """The document's canonical JSON reads back to the same document."""
    assert parse_document(document_json(DETAILED)) == DETAILED


@pytest.mark.parametrize("release", ["003040", "004010X", "006020", ""])
def test_other_releases_are_refused(release: str) -> None:
    """Only 004010 and 005010 are mapped: another release is a MappingError naming GS08."""
    with pytest.raises(MappingError, match="GS08"):
        ts997.from_erp(DETAILED, release=release)


@pytest.mark.parametrize(
    ("code", "status"),
    [("M", "rejected"), ("W", "rejected"), ("X", "rejected"), ("E", "accepted_with_errors")],
)
def test_every_ack_code_is_read_as_its_status(code: str, status: str) -> None:
    """AK501/AK901 M, W and X are rejections; E is accepted with errors."""
    body = [Segment("AK1", ("SH", "12")), Segment("AK2", ("856", "0001")),
            Segment("AK5", (code,)), Segment("AK9", (code, "1", "1", "0"))]  # fmt: skip
    ack = ts997.to_erp(build_transaction("997", 1, body))
    assert ack.status == status and ack.transactions[0].status == status


# -- the 997s the validator builds -------------------------------------------------------------


def _check_against_report(ack: FunctionalAck, group: GroupReport) -> None:
    """``ack`` says what the report says: statuses, counts, codes and every error finding."""
    assert (ack.functional_id, ack.group_control_number) == (
        group.functional_id,
        group.control_number,
    )
    assert ack.status == group.status
    assert ack.sets_received == len(group.transactions)
    expected_included = (
        group.declared_sets if group.declared_sets is not None else len(group.transactions)
    )
    assert ack.sets_included == expected_included
    assert ack.sets_accepted == group.accepted_sets
    assert ack.codes == group.group_codes
    assert len(ack.transactions) == len(group.transactions)
    for acked, txn in zip(ack.transactions, group.transactions, strict=True):
        assert (acked.set_id, acked.control_number) == (txn.set_id, txn.control_number)
        assert acked.status == txn.status
        assert acked.codes == txn.set_codes
        by_place = {(s.segment_id, s.position, s.code): s for s in acked.segments}
        for finding in txn.findings:
            if finding.severity != "error" or finding.level not in ("segment", "element"):
                continue
            seg_id, position = (finding.segment or "")[:3], finding.position or 0
            if finding.level == "segment":
                assert (seg_id, position, finding.code) in by_place, finding
                continue
            seg_error = by_place[(seg_id, position, "8")]
            place = (finding.element, finding.component, finding.element_ref, finding.code)
            assert place in [(e.position, e.component, e.reference, e.code)
                             for e in seg_error.elements], finding  # fmt: skip


def _acks_for(document: bytes) -> list[tuple[Transaction, GroupReport]]:
    report = validate(document)
    (isa,) = report.interchanges
    acks = acknowledge(isa, next_control_number=5, when=datetime(2026, 1, 2))
    read = [_first_transaction(serialize(a)) for a in acks]
    return list(zip(read, isa.groups, strict=True))


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_997_of_a_broken_850_reads_as_the_report(mutant: Mutant) -> None:
    """For each broken 850 of the corpus, the 997 built from its report reads back with the
    report's statuses, counts, codes and findings, and is written back identically."""
    clean = generate(5150, sets=2, max_lines=4).decode("ascii")
    ((transaction, group),) = _acks_for(mutant.mutate(clean).encode("ascii"))
    ack = ts997.to_erp(transaction)
    _check_against_report(ack, group)
    assert ack.transactions[0].status == "rejected"
    expected = mutant.expected
    first = ack.transactions[0]
    if expected.level == "transaction":
        assert expected.code in first.codes
    elif expected.level == "segment":
        assert any((s.segment_id, s.code) == (expected.segment, expected.code)
                   for s in first.segments)  # fmt: skip
    else:
        assert any(s.segment_id == expected.segment and s.code == "8" and any(
            (e.position, e.code) == (expected.element, expected.code) for e in s.elements)
            for s in first.segments)  # fmt: skip
    assert ts997.from_erp(ack) == list(transaction.segments)


def test_997_of_a_clean_group_reads_accepted() -> None:
    """A clean group of three 850s: AK9 A 3 3 3 and three accepted sets."""
    ((transaction, group),) = _acks_for(generate(4242, sets=3, max_lines=5))
    ack = ts997.to_erp(transaction)
    _check_against_report(ack, group)
    assert (ack.status, ack.sets_accepted) == ("accepted", 3)
    assert [t.status for t in ack.transactions] == ["accepted"] * 3


def test_997_of_a_partly_rejected_group_reads_partially_accepted() -> None:
    """Two good sets and one with an unknown segment: P, with the sets A, R, A."""
    rng = random.Random(3)
    sets = [purchase_order_set(rng, n, 2) for n in (1, 2, 3)]
    sets[1] = [s.replace("CSH*", "CSX*") if s.startswith("CSH*") else s for s in sets[1]]
    ((transaction, group),) = _acks_for(interchange(sets, isa13=5, gs06=6))
    ack = ts997.to_erp(transaction)
    _check_against_report(ack, group)
    assert ack.status == "partially_accepted"
    assert [t.status for t in ack.transactions] == ["accepted", "rejected", "accepted"]


def test_997_of_a_group_with_a_wrong_count_carries_the_group_code() -> None:
    """GE01 says 3 for 2 sets: AK9 R with AK905 5 and AK902 3."""
    document = generate(12, sets=2, max_lines=2).replace(b"GE*2*", b"GE*3*")
    ((transaction, group),) = _acks_for(document)
    ack = ts997.to_erp(transaction)
    _check_against_report(ack, group)
    assert (ack.status, ack.codes, ack.sets_included, ack.sets_received) == ("rejected", ["5"],
                                                                            3, 2)  # fmt: skip


@pytest.mark.parametrize("value", ["P" * 22 + " ", "AB^CD" + "P" * 20])
def test_997_quoting_any_bad_value_reads_back(value: str) -> None:
    """Whatever bad value the validator quotes in AK404, the 997 reads back."""
    clean = generate(5150, sets=1, max_lines=4).decode("ascii")
    mutated = _set_element("BEG*", 3, value)(clean)
    ((transaction, group),) = _acks_for(mutated.encode("ascii"))
    _check_against_report(ts997.to_erp(transaction), group)


def test_997_of_a_5010_ship_notice_reads_back() -> None:
    """The 997 answering a 5010 856 group (same release) reads as accepted."""
    data = render_golden(load_document("856", "parcel_fedex_loose_cartons_5010"), "005010")
    ((transaction, group),) = _acks_for(data)
    ack = ts997.to_erp(transaction)
    _check_against_report(ack, group)
    assert (ack.functional_id, ack.status) == ("SH", "accepted")
    assert ts997.from_erp(ack, release="005010") == list(transaction.segments)


# -- what cannot be mapped ---------------------------------------------------------------------


GOOD = [Segment("AK1", ("PO", "17")), Segment("AK2", ("850", "0001")),
        Segment("AK3", ("BEG", "2", "", "8")), Segment("AK4", ("5", "373", "8", "2026021")),
        Segment("AK5", ("R", "5")), Segment("AK9", ("R", "1", "1", "0"))]  # fmt: skip


def _with(index: int, new: Segment | None) -> Transaction:
    body = list(GOOD)
    if new is None:
        del body[index]
    else:
        body[index] = new
    return build_transaction("997", 1, body)


def test_good_997_of_the_malformed_cases_is_read() -> None:
    """The base of the malformed cases reads (so each case breaks one thing only)."""
    ack = ts997.to_erp(build_transaction("997", 1, GOOD))
    assert ack.transactions[0].segments[0].elements[0].bad_value == "2026021"


@pytest.mark.parametrize(
    ("index", "new", "message"),
    [
        (0, None, r"segment 2 \(AK2\): a 997 starts with AK1"),
        (0, Segment("AK2", ("850", "0001")), r"segment 2 \(AK2\): a 997 starts with AK1"),
        (1, None, r"segment 3 \(AK3\): AK3 outside an AK2 loop"),
        (2, None, r"segment 4 \(AK4\): AK4 without its AK3"),
        (2, Segment("AK3", ("BEG", "two", "", "8")), r"segment 4 \(AK3\): AK302 'two'"),
        (3, Segment("AK4", (Composite(("5", "x")), "373", "8")), "AK401-2 'x'"),
        (3, Segment("AK4", ("", "373", "8")), "AK401 ''"),
        (3, Segment("AK4", (Composite(("5", "1", "2")), "373", "8")), "more than two"),
        (4, None, r"segment 6 \(AK9\): the last AK2 loop has no AK5"),
        (4, Segment("AK2", ("850", "0002")), "the previous AK2 loop has no AK5"),
        (4, Segment("AK5", ("Q",)), r"segment 6 \(AK5\): AK501 'Q'"),
        (5, None, "has no AK9"),
        (5, Segment("AK9", ("R", "1", "one", "0")), r"segment 7 \(AK9\): AK903 'one'"),
        (5, Segment("AK9", ("Z", "1", "1", "0")), "AK901 'Z'"),
        (5, Segment("BEG", ("00", "SA")), r"segment 7 \(BEG\): not a segment of the 997"),
        (1, Segment("AK1", ("PO", "17")), r"segment 3 \(AK1\): AK1 is used twice"),
        (0, Segment("AK1", ("purchase", "17")), r"\$\.functional_id"),
        (2, Segment("AK3", ("BEG", "2", "", "8x")), r"\$\.transactions\[0\]\.segments\[0\]\.code"),
    ],
)  # fmt: skip
def test_malformed_997_is_a_mapping_error(index: int, new: Segment | None, message: str) -> None:
    """Segments out of the AK1 (AK2 (AK3 AK4*)* AK5)* AK9 order, unknown codes, positions or
    counts that are not numbers, values the model refuses: MappingError naming the segment
    position (ST = 1) and element, or the JSON path."""
    with pytest.raises(MappingError, match=message):
        ts997.to_erp(_with(index, new))


def test_nothing_may_follow_ak9() -> None:
    """A segment after AK9 is a MappingError."""
    transaction = build_transaction("997", 1, [*GOOD, Segment("AK2", ("850", "0002"))])
    with pytest.raises(MappingError, match=r"segment 8 \(AK2\): nothing may follow AK9"):
        ts997.to_erp(transaction)


def test_empty_997_is_a_mapping_error() -> None:
    """A 997 with nothing between ST and SE has no AK1."""
    with pytest.raises(MappingError, match="has no AK1"):
        ts997.to_erp(build_transaction("997", 1, []))
