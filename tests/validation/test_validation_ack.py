"""The 997s (and TA1s) built from validation reports.

Contract (issue 2): one 997 per received group, AK1 echoing GS01/GS06, AK2..AK5 per set,
AK9 with counts, sender and receiver swapped, same release as the inbound group, control
numbers from the caller; no 997 for a 997. The 997s must be accepted by our 997 map and
by pyx12's packaged 997.4010 map.
"""

from __future__ import annotations

import random
import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from bench.corpus import generate, interchange, purchase_order_set
from gateway.validation import MapSet, acknowledge, build_997, build_ta1, validate
from gateway.x12 import Segment, parse, serialize

WHEN = datetime(2026, 3, 4, 5, 6)


def _one_ack(document: bytes, control: int = 41) -> tuple[bytes, object]:
    report = validate(document)
    (ack,) = acknowledge(report.interchanges[0], next_control_number=control, when=WHEN)
    return serialize(ack), ack


def test_997_mirrors_the_inbound_envelope() -> None:
    """Parties swapped, ISA12/GS08/ISA15 and delimiters kept, control numbers from the caller."""
    inbound = generate(9, sets=2, max_lines=3).replace(b"*0*P*>", b"*0*T*>")
    text, _ = _one_ack(inbound, control=41)
    (isa,) = parse(text).interchanges
    assert isa.sender == ("ZZ", "ACMEVENDOR") and isa.receiver == ("ZZ", "AMAZON")
    assert isa.version == "00401" and isa.header.text(15) == "T"
    assert isa.control_number == "000000041"
    (group,) = isa.groups
    assert group.functional_id == "FA" and group.control_number == "41"
    assert group.header.text(2) == "ACMEVENDOR" and group.header.text(3) == "AMAZON"
    assert group.version == "004010"
    assert (isa.delimiters.element, isa.delimiters.component, isa.delimiters.segment) == (
        "*", ">", "~",
    )  # fmt: skip
    ak1 = group.transactions[0].segments[0]
    assert ak1 == Segment("AK1", ("PO", str(9 % 999_999 + 1)))
    assert b"\n" not in text and b"\r" not in text


def test_997_counts_and_partial_acceptance() -> None:
    """Two good sets and one bad: AK5 A, A, R and AK9*P*3*3*2."""
    rng_sets = []
    rng = random.Random(3)
    for n in (1, 2, 3):
        rng_sets.append(purchase_order_set(rng, n, 2))
    rng_sets[1] = [s.replace("CSH*", "CSX*") if s.startswith("CSH*") else s for s in rng_sets[1]]
    _, ack = _one_ack(interchange(rng_sets, isa13=5, gs06=6))
    body = ack.groups[0].transactions[0].segments
    assert [s.text(1) for s in body if s.tag == "AK5"] == ["A", "R", "A"]
    assert [s.elements[:2] for s in body if s.tag == "AK2"] == [
        ("850", "0001"), ("850", "0002"), ("850", "0003"),
    ]  # fmt: skip
    assert body[-1].elements == ("P", "3", "3", "2")


def test_997_for_a_rejected_group_lists_group_codes() -> None:
    """GE01 wrong: AK9*R with AK905 5 (count mismatch) and the sets still acknowledged."""
    document = generate(12, sets=2, max_lines=2).replace(b"GE*2*", b"GE*3*")
    _, ack = _one_ack(document)
    ak9 = ack.groups[0].transactions[0].segments[-1]
    assert ak9.elements == ("R", "3", "2", "2", "5")


def test_no_997_for_a_997() -> None:
    """A group of 997s is not acknowledged (no 997 for a 997)."""
    text, _ = _one_ack(generate(13, sets=1, max_lines=2))
    report = validate(text)
    assert report.accepted, report.all_findings()
    assert acknowledge(report.interchanges[0], next_control_number=1, when=WHEN) == []
    isa = report.interchanges[0]
    ack = build_997(isa, isa.groups[0], interchange_control_number=1, group_control_number=1,
                    when=WHEN)  # fmt: skip
    assert ack is None


def test_one_997_per_group() -> None:
    """An interchange with two PO groups gets two 997s, with consecutive control numbers."""
    one = generate(21, sets=1, max_lines=2).decode()
    head, rest = one.split("GS*", 1)
    group = "GS*" + rest[: rest.index("IEA*")]
    second = group.replace("*22*X*", "*23*X*").replace("GE*1*22", "GE*1*23")
    document = (head + group + second + "IEA*2*000000022~\n").encode()
    report = validate(document)
    assert report.accepted, report.all_findings()
    acks = acknowledge(report.interchanges[0], next_control_number=100, when=WHEN)
    assert [a.control_number for a in acks] == ["000000100", "000000101"]
    assert [a.groups[0].transactions[0].segments[0].text(2) for a in acks] == ["22", "23"]


def test_997_is_accepted_by_our_997_map() -> None:
    """Our 997s, accepting and rejecting, validate clean against maps/997.4010.xml."""
    for document in (
        generate(31, sets=2, max_lines=3),
        generate(32, sets=1, max_lines=3).replace(b"CSH*", b"CSX*"),
    ):
        text, _ = _one_ack(document)
        report = validate(text)
        assert report.accepted, report.all_findings()


@pytest.fixture(scope="module")
def packaged_maps() -> MapSet:
    """pyx12's own map directory, with its healthcare 997.4010 map."""
    return MapSet(str(resources.files("pyx12") / "map"))


def test_997_is_accepted_by_pyx12_packaged_997_map(
    packaged_maps: MapSet, tmp_path: Path
) -> None:
    """pyx12's packaged 997.4010 map accepts our 997 but for AK101's healthcare code list.

    That map lists healthcare functional ids (HC, HP, ...) in AK101 and healthcare set ids
    (270, 837, ...) in AK201, and because both are required first elements, an unlisted value
    derails pyx12's walk. So: (1) the very same 997 with AK101 ``HC`` and AK201 ``837`` is
    accepted whole by the packaged map; (2) a copy of the packaged directory whose only change
    is our ids added to those two lists accepts our 997 unchanged; (3) unmodified, its first
    finding is AK101's code, nothing earlier.
    """
    document = generate(33, sets=2, max_lines=3).replace(b"CSH*", b"CSX*", 1)
    text, _ = _one_ack(document)

    healthcare = text.replace(b"AK1*PO*", b"AK1*HC*").replace(b"AK2*850*", b"AK2*837*")
    assert validate(healthcare, maps=packaged_maps).all_findings() == []

    widened = tmp_path / "map"
    shutil.copytree(packaged_maps.map_dir, widened)
    map_997 = widened / "997.4010.xml"
    xml = map_997.read_text(encoding="utf-8")
    for element, ours in (("AK101", ("PO", "PR", "SH", "IN", "IB")), ("AK201", ("850", "855"))):
        start = xml.index(f'<element xid="{element}">')
        end = xml.index("</valid_codes>", start)
        xml = xml[:end] + "".join(f"<code>{c}</code>" for c in ours) + xml[end:]
    map_997.write_text(xml, encoding="utf-8")
    assert validate(text, maps=MapSet(widened)).all_findings() == []

    first = validate(text, maps=packaged_maps).all_findings()[0]
    assert (first.level, first.code, first.segment, first.element, first.bad_value) == (
        "element", "7", "AK1", 1, "PO",
    )  # fmt: skip


def test_ta1_rejects_an_interchange_with_a_bad_envelope() -> None:
    """IEA02 != ISA13: the answer is a TA1 with R and note code 001, not a 997."""
    document = generate(41, sets=1, max_lines=2).replace(b"IEA*1*000000042", b"IEA*1*000000999")
    report = validate(document)
    assert not report.accepted
    (answer,) = acknowledge(report.interchanges[0], next_control_number=9, when=WHEN)
    assert answer.groups == ()
    (ta1,) = answer.service_segments
    assert ta1.tag == "TA1"
    assert ta1.elements == ("000000042", "260101", "1200", "R", "001")
    reread = parse(serialize(answer))
    assert reread.interchanges[0].service_segments == (ta1,)


def test_ta1_accepts_a_sound_interchange() -> None:
    """build_ta1 on a sound interchange says A / 000."""
    report = validate(generate(42, sets=1, max_lines=2))
    answer = build_ta1(report.interchanges[0], interchange_control_number=2, when=WHEN)
    assert answer.service_segments[0].elements[3:] == ("A", "000")


@pytest.mark.parametrize(
    ("version", "isa11", "reply_version", "reply_repetition", "code"),
    [
        ("00501", "U", "00501", "^", "016"),  # a letter cannot separate repetitions
        ("00040", "U", "00401", None, "017"),  # not a version: answered in 00401
    ],
)
def test_ta1_for_an_unusable_isa_is_still_writable(
    version: str, isa11: str, reply_version: str, reply_repetition: str | None, code: str
) -> None:
    """A TA1 answers an interchange whose ISA11/ISA12 cannot be mirrored, with sound values."""
    document = generate(43, sets=1, max_lines=2)
    document = document[:82] + isa11.encode() + b"*" + version.encode() + document[89:]
    report = validate(document)
    (answer,) = acknowledge(report.interchanges[0], next_control_number=3, when=WHEN)
    assert answer.version == reply_version
    assert answer.delimiters.repetition == reply_repetition
    assert answer.service_segments[0].elements[3:] == ("R", code)
    assert parse(serialize(answer)).interchanges == (answer,)
