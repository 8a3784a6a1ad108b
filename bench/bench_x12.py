"""Benchmark of the X12 reader against a plain split of the same bytes.

Generates a ~100 MB file of Amazon-style 850s (20 segments each: ST, BEG, CUR, REF, FOB,
CSH, 2 DTM, N1, 7 PO1 with 2 CTP, CTT, SE) in several functional groups of several
interchanges, in a temporary directory, then measures in one run:

(a) ``data.split(b"~")`` on the file read whole (the floor: no decoding, no objects);
(b) ``gateway.x12.read_events`` streaming the file from disk: time and segments/s, in a
    fresh child process so that its peak RSS (``resource.getrusage``) is read_events' own;
    once holding one set at a time (the default) and once one segment at a time
    (``whole_sets=False``);
(c) the tracemalloc peak of read_events over the first ~10 MB (tracemalloc slows
    allocation-heavy code several times, so it is not on the timed pass).

Usage: ``python bench/bench_x12.py [--mb 100] [--keep DIR]``. Not a test; never timed in CI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import LazyInterchanges, peak_rss_kib
from gateway.x12 import DocumentIssue, TransactionRead, read_events

SETS_PER_GROUP = 5_000
GROUPS_PER_INTERCHANGE = 4
def generate(path: Path, megabytes: int) -> tuple[int, int]:
    """Write ~``megabytes`` MB of valid interchanges to ``path``; return (sets, segments)."""
    one = len(LazyInterchanges(1, GROUPS_PER_INTERCHANGE, SETS_PER_GROUP).read())
    interchanges = max(1, round(megabytes * 1_000_000 / one))
    stream = LazyInterchanges(interchanges, GROUPS_PER_INTERCHANGE, SETS_PER_GROUP)
    with path.open("wb") as out:
        while chunk := stream.read(1 << 16):  # small reads: the generator appends to its buffer
            out.write(chunk)
    return stream.expected_sets, stream.segments


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return peak_rss_kib() / 1024


def count_sets(stream: io.BufferedReader, whole_sets: bool = True) -> int:
    sets = 0
    for event in read_events(stream, whole_sets=whole_sets):
        if isinstance(event, TransactionRead):
            sets += 1
        elif isinstance(event, DocumentIssue):
            raise SystemExit(f"generated file is not X12: {event.issue}")
    return sets


def measure_events(path: Path, whole_sets: bool) -> None:
    """Child process: stream ``path`` through read_events; print time, sets and peak RSS."""
    rss_before = max_rss_mib()
    with path.open("rb") as stream:
        started = time.perf_counter()
        sets = count_sets(stream, whole_sets)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "sets": sets, "before": rss_before,
                      "after": max_rss_mib()}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="size of the generated file in MB")
    parser.add_argument("--keep", type=Path, help="write the file here instead of a temp dir")
    parser.add_argument("--measure-events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--segment-by-segment", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_events:
        measure_events(args.measure_events, whole_sets=not args.segment_by_segment)
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = (args.keep or Path(tmp)) / "bench_850.edi"
        started = time.perf_counter()
        sets, segments = generate(path, args.mb)
        size = path.stat().st_size
        print(
            f"generated {size / 1e6:.1f} MB, {sets} sets, {segments} segments"
            f" in {time.perf_counter() - started:.1f} s ({path})",
            file=sys.stderr,
            flush=True,
        )

        # (b) in a fresh process: ru_maxrss is the high-water mark of the whole process.
        runs = []
        for mode in ([], ["--segment-by-segment"]):
            child = subprocess.run(
                [sys.executable, __file__, "--measure-events", str(path), *mode],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            measured = json.loads(child.stdout)
            if measured["sets"] != sets:
                raise SystemExit(f"read {measured['sets']} sets, generated {sets}")
            runs.append(measured)

        # (c) tracemalloc peak of read_events over the first ~10 MB (a bounded prefix).
        with path.open("rb") as stream:
            prefix = io.BytesIO(stream.read(10_000_000))
        tracemalloc.start()
        for _ in read_events(prefix):
            pass
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del prefix

        # (a) the floor: the whole file in memory, split on the terminator.
        started = time.perf_counter()
        data = path.read_bytes()
        read_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pieces = data.split(b"~")
        split_seconds = time.perf_counter() - started
        split_segments = len(pieces) - 1
        rss_after_split = max_rss_mib()
        del pieces, data

    mb = size / 1e6
    print(f"X12 reader benchmark: {mb:.1f} MB, {sets} 850 sets of 20 segments, {segments} segments")
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs\n")
    print("| measure | time (s) | MB/s | segments/s | memory |")
    print("|---|---:|---:|---:|---|")
    print(
        f'| (a) `data.split(b"~")` (file read whole: {read_seconds:.2f} s) | {split_seconds:.2f}'
        f" | {mb / split_seconds:,.0f} | {split_segments / split_seconds:,.0f}"
        f" | peak RSS {rss_after_split:.0f} MiB (holds the file and every piece) |"
    )
    for measured, what in zip(runs, ("one set at a time", "`whole_sets=False`"), strict=True):
        seconds, before, after = measured["seconds"], measured["before"], measured["after"]
        print(
            f"| (b) `read_events` from disk, {what} (child process) | {seconds:.2f}"
            f" | {mb / seconds:,.1f} | {segments / seconds:,.0f}"
            f" | peak RSS {before:.1f} MiB after imports, {after:.1f} MiB at the end"
            f" (+{after - before:.1f}) |"
        )
    events_seconds = runs[0]["seconds"]
    print(
        f"| (c) `read_events` tracemalloc peak (first 10 MB) | | | |"
        f" {traced_peak / (1024 * 1024):.2f} MiB |"
    )
    print(
        f"\nread_events is {events_seconds / split_seconds:,.0f}x the time of a plain split;"
        f" {sets / events_seconds:,.0f} sets/s ({sets / runs[1]['seconds']:,.0f} segment by"
        " segment)."
    )


if __name__ == "__main__":
    main()
