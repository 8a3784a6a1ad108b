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
from pathlib import Path

from bench.corpus import LazyInterchanges, peak_rss_kib
from gateway.x12 import (
    DocumentIssue,
    GroupEnd,
    InterchangeEnd,
    InterchangeStart,
    TransactionRead,
    read_events,
)


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
