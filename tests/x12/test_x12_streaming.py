"""Streaming: read_events reads a large input in bounded memory.

These are memory bounds, not timings. What read_events may hold at any moment (lexer.py and
envelope.py): one read chunk (64 KiB), the segment being read (at most ``max_segment``,
1 MiB, and during a buffer refill the old and the new buffer), the current transaction set,
and per open group the ST02 values seen (for the duplicate check, AK502 23), per input the
(sender, ISA13) pairs. For the inputs here that is well under 4 MiB of Python objects
whatever the length of the input; the bounds below leave room for the interpreter and the
allocator, and are far below the size of the input, which could not be held whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from bench.corpus import GeneratedStream, LazyInterchanges, peak_rss_kib
from gateway.x12 import (
    DocumentIssue,
    GroupEnd,
    InterchangeEnd,
    InterchangeStart,
    SegmentRead,
    TransactionRead,
    TransactionStart,
    read_events,
)
from tests.x12text import isa


def count_events(stream: LazyInterchanges) -> dict[str, int]:
    counts = {"sets": 0, "groups": 0, "interchanges": 0, "issues": 0, "stops": 0}
    for event in read_events(stream):
        if isinstance(event, TransactionRead):
            counts["sets"] += 1
            counts["issues"] += len(event.transaction.issues)
        elif isinstance(event, GroupEnd):
            counts["groups"] += 1
            counts["issues"] += len(event.issues)
        elif isinstance(event, InterchangeEnd):
            counts["interchanges"] += 1
            counts["issues"] += len(event.issues)
        elif isinstance(event, InterchangeStart):
            counts["issues"] += len(event.issues)
        elif isinstance(event, DocumentIssue):
            counts["stops"] += 1
    return counts


def test_generated_stream_is_valid_and_complete():
    """The generator itself: a small instance reads back with no issue and every set."""
    stream = LazyInterchanges(interchanges=2, groups=3, sets_per_group=4)
    counts = count_events(stream)
    assert counts == {"sets": 24, "groups": 6, "interchanges": 2, "issues": 0, "stops": 0}


def test_python_heap_peak_stays_bounded_while_streaming():
    """Memory bound (not a timing): the traced Python heap peak stays under 4 MiB while
    ~1.5 MB of 3 600 sets is read (measured: 1.3 MiB, mostly the one-time import of
    _strptime by the first ISA date check; see the module docstring).

    tracemalloc slows allocation-heavy code about sevenfold, so the traced input is kept
    small; the 30 MB case is measured by process RSS in the next test.
    """
    stream = LazyInterchanges(interchanges=2, groups=2, sets_per_group=900)
    tracemalloc.start()
    try:
        counts = count_events(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts["sets"] == stream.expected_sets == 3600
    assert counts["issues"] == counts["stops"] == 0
    assert stream.produced > 1_500_000
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for {stream.produced} bytes read"


class OneLongPurchaseOrder(GeneratedStream):
    """A binary stream of one interchange holding one 850 of ``lines`` PO1 lines, made as it
    is read (``read`` builds text on demand; ``produced`` counts the bytes handed out).
    ``se01_error`` is added to the right SE01."""

    def __init__(self, lines: int, se01_error: int = 0) -> None:
        self.lines = lines
        self.se01 = lines + 4 + se01_error  # ST, BEG, the lines, CTT, SE
        super().__init__(self._generate())

    def _generate(self) -> Iterator[bytes]:
        yield (isa() + "\r\nGS*PO*AMAZON*VENDOR*20240102*1530*1*X*004010~\r\n").encode()
        yield b"ST*850*0001~\r\nBEG*00*SA*PO-LONG**20240102~\r\n"
        for n in range(1, self.lines + 1):
            yield f"PO1*{n}*12*EA*9.99**UP*012345678905*VN*SKU-{n:08d}~\r\n".encode()
        yield f"CTT*{self.lines}~\r\nSE*{self.se01}*0001~\r\n".encode()
        yield b"GE*1*1~\r\nIEA*1*000000001~\r\n"


def test_a_set_of_100_000_lines_is_read_segment_by_segment_in_bounded_memory():
    """Memory bound (not a timing): with ``whole_sets=False`` one 850 of 100,000 PO1 lines
    (5.6 MB) is read with a traced Python heap peak under 4 MiB: the set is never held,
    only the segment being read and one read chunk (measured: 0.4 MiB; read whole, the
    same set peaks at about 70 MiB). SE01 is still checked: the count of the segments read
    is right."""
    stream = OneLongPurchaseOrder(100_000)
    body = 0
    lines = 0
    starts: list[str] = []
    reads: list[TransactionRead] = []
    stops = 0
    tracemalloc.start()
    try:
        for event in read_events(stream, whole_sets=False):
            if isinstance(event, SegmentRead):
                body += 1
                lines += event.segment.tag == "PO1"
            elif isinstance(event, TransactionStart):
                starts.append(event.header.text(2))
            elif isinstance(event, TransactionRead):
                reads.append(event)
            elif isinstance(event, DocumentIssue):
                stops += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.produced > 5_000_000
    assert (starts, body, lines, stops) == (["0001"], 100_002, 100_000, 0)
    (read,) = reads
    assert read.transaction.segments == ()
    assert read.transaction.issues == ()
    assert read.transaction.trailer is not None and read.transaction.trailer.text(1) == "100004"
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for {stream.produced} bytes read"


def test_a_long_set_with_a_wrong_se01_is_reported_in_streaming_mode():
    """The count that replaces the kept body: an SE01 one off is AK502 4 with the count."""
    stream = OneLongPurchaseOrder(5_000, se01_error=-1)
    reads = [e for e in read_events(stream, whole_sets=False) if isinstance(e, TransactionRead)]
    (issue,) = reads[0].transaction.issues
    assert (issue.code, issue.element) == ("4", "SE01")
    assert issue.message == "SE01 says '5003' segments, the set has 5004"


def _measure_child() -> None:
    """Run in a child process: stream ~30 MB and print the RSS growth and the counts."""
    stream = LazyInterchanges(interchanges=3, groups=4, sets_per_group=5900)
    before = peak_rss_kib()
    counts = count_events(stream)
    after = peak_rss_kib()
    counts.update(
        rss_growth_kib=after - before, produced=stream.produced, expected=stream.expected_sets
    )
    print(json.dumps(counts))


def test_thirty_megabytes_stream_in_bounded_process_memory():
    """Memory bound (not a timing): reading ~30 MB (70 800 sets in 12 groups of 3
    interchanges) grows the peak RSS of a fresh process by less than 16 MiB, half the
    input, so the input is never held whole; every set is read, no issue is found.

    A child process is used because the peak RSS is a high-water mark of the whole process.
    """
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, cwd=root, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["produced"] > 30_000_000
    assert counts["sets"] == counts["expected"] == 70_800
    assert (counts["groups"], counts["interchanges"]) == (12, 3)
    assert counts["issues"] == counts["stops"] == 0
    assert counts["rss_growth_kib"] < 16 * 1024, counts


if __name__ == "__main__":
    _measure_child()
