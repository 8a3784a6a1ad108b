"""A 5010 856 (ISA12 00501, GS08 005010, repetition separator ^) is read and validated."""

from __future__ import annotations

from datetime import datetime

from gateway.validation import acknowledge, validate
from gateway.x12 import Repeated, parse, serialize
from tests.conftest import FIXTURES

GOLDEN = FIXTURES / "x12" / "856_amazon_5010.edi"


def test_5010_856_is_read_with_its_repetition_separator() -> None:
    """The reader takes ISA11 ``^`` as the repetition separator of an 00501 interchange."""
    (isa,) = parse(GOLDEN).interchanges
    assert isa.version == "00501"
    assert isa.delimiters.repetition == "^"
    assert isa.groups[0].version == "005010"
    assert isa.groups[0].transactions[0].set_id == "856"


def test_5010_856_is_accepted_against_the_5010_map() -> None:
    """The golden 5010 ASN validates clean, and its 997 keeps release 00501 / 005010."""
    report = validate(GOLDEN)
    assert report.all_findings() == []
    (ack,) = acknowledge(report.interchanges[0], next_control_number=1, when=datetime(2026, 1, 1))
    assert ack.version == "00501" and ack.groups[0].version == "005010"
    assert ack.delimiters.repetition == "^"
    assert parse(serialize(ack)).interchanges == (ack,)


def test_5010_856_errors_are_found() -> None:
    """Validated for real: a bad ship date (DTM*011) and an unknown HL level are rejected."""
    text = GOLDEN.read_bytes()
    broken = text.replace(b"DTM*011*20250314", b"DTM*011*20251399", 1)
    findings = validate(broken).all_findings()
    assert [(f.level, f.code, f.segment, f.element) for f in findings] == [
        ("element", "8", "DTM", 2)
    ]
    assert findings[0].offset == broken.index(b"DTM*011")


def test_5010_repetition_separator_splits_values() -> None:
    """A value with ``^`` in a 5010 interchange is a repeated element, not text."""
    text = GOLDEN.read_bytes().replace(b"REF*BM*ACMEV00001234", b"REF*BM*ACMEV0001^ACMEV0002", 1)
    (isa,) = parse(text).interchanges
    ref = next(s for s in isa.groups[0].transactions[0].segments if s.tag == "REF")
    assert ref.elements[1] == Repeated(("ACMEV0001", "ACMEV0002"))
    assert not validate(text).accepted
