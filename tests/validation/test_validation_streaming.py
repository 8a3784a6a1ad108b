"""The fast engine validates a set segment by segment: memory stays bounded by one segment
whatever the length of the set, and findings are located as in the whole-set reading."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator

import pytest

from bench.corpus import generate
from gateway.validation import validate
from gateway.validation.validate import validate_document
from gateway.x12 import parse

HEAD = (
    "ISA*00*          *00*          *ZZ*AMAZON         *ZZ*ACMEVENDOR     *260101*1200*U*"
    "00401*000000001*0*P*>~GS*PO*AMAZON*ACMEVENDOR*20260101*1200*1*X*004010~"
)
BODY_HEAD = ["ST*850*0001", "BEG*00*NE*PO123**20260101", "REF*CR*ACMEV", "FOB*CC", "CSH*N",
             "DTM*064*20260110", "DTM*063*20260117", "N1*ST**92*PHX6"]  # fmt: skip


@pytest.fixture(autouse=True)
def validation_engine() -> str:
    """Every call here names its engine: one run per test."""
    return "named"


def _hash(count: int) -> int:
    """CTT02, the sum of the PO102 quantities of ``_lines``."""
    return sum(number % 97 + 1 for number in range(1, count + 1))


def _trailer(count: int) -> str:
    """CTT, SE, GE and IEA after ``count`` lines."""
    return (f"CTT*{count}*{_hash(count)}~SE*{len(BODY_HEAD) + count + 2}*0001~GE*1*1~"
            "IEA*1*000000001~")  # fmt: skip


def _lines(count: int, bad_line: int | None) -> Iterator[str]:
    for number in range(1, count + 1):
        unit = "QQ" if number == bad_line else "EA"
        yield f"PO1*{number}*{number % 97 + 1}*{unit}*{number % 500 + 1}.25**UP*{number:012d}~"


class _LazyStream(io.RawIOBase):
    """A binary stream made as it is read: one 850 of ``count`` PO1 lines."""

    def __init__(self, count: int) -> None:
        self._pieces = self._generate(count)
        self._pending = b""

    @staticmethod
    def _generate(count: int) -> Iterator[bytes]:
        yield (HEAD + "~".join(BODY_HEAD) + "~").encode()
        batch: list[str] = []
        for line in _lines(count, None):
            batch.append(line)
            if len(batch) == 1000:
                yield "".join(batch).encode()
                batch = []
        yield "".join(batch).encode()
        yield _trailer(count).encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._pending += piece
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _document(count: int, bad_line: int | None = None) -> bytes:
    body = "~".join(BODY_HEAD) + "~" + "".join(_lines(count, bad_line))
    return (HEAD + body + _trailer(count)).encode()


def test_a_100000_line_set_is_validated_in_bounded_memory() -> None:
    """One 850 of 100,000 lines, produced as it is read: accepted, and the Python heap
    never holds more than a few MiB (the set alone, held whole, takes far more)."""
    validate(generate(1))  # maps compiled before measuring
    stream = io.BufferedReader(_LazyStream(100_000))
    tracemalloc.start()
    try:
        report = validate(stream, name="lazy", engine="fast")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (txn,) = report.interchanges[0].groups[0].transactions
    assert txn.status == "accepted", report.all_findings()[:3]
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_an_error_deep_in_a_long_set_is_located_as_the_reference_does() -> None:
    """A bad unit of measure on line 4,000 of 5,000: both engines name PO103 of the same
    segment position, and the finding points at that segment's bytes."""
    data = _document(5_000, bad_line=4_000)
    fast = validate(data, engine="fast").all_findings()
    reference = validate(data, engine="pyx12").all_findings()
    assert [(f.code, f.segment, f.position, f.element) for f in fast] == [
        (f.code, f.segment, f.position, f.element) for f in reference
    ]
    (finding,) = fast
    assert (finding.code, finding.segment, finding.element) == ("7", "PO1", 3)
    assert finding.position == len(BODY_HEAD) + 4_000
    assert data[finding.offset:].startswith(b"PO1*4000*")


@pytest.mark.parametrize("engine", ["fast", "pyx12"])
def test_validate_document_gives_the_report_and_the_tree_in_one_reading(engine: str) -> None:
    """The report equals validate()'s and the tree equals parse()'s, on a clean input and
    on a broken one."""
    for data in (generate(7, sets=3), _document(30, bad_line=3)):
        report, tree = validate_document(data, engine=engine)
        assert report.to_dict() == validate(data, engine=engine).to_dict()
        assert tree == parse(data)


def test_an_unknown_engine_is_refused() -> None:
    """A typo in the engine's name is an error, not a silent fallback."""
    with pytest.raises(ValueError, match="unknown validation engine 'pyx13'"):
        validate(generate(1), engine="pyx13")
