"""The memory probe of ``bench_engine``'s big interchange, run as its own process:
``python -m bench.rss_child PATH`` prints one JSON line of figures.

It imports what validating a file takes (``gateway.validation`` and the codec) and nothing
else, so the peak RSS it reports is that of a process that validates, not of the
benchmark's own machinery (SQLAlchemy, the pipeline, the test simulators).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.corpus import peak_rss_kib


def set_statuses(report: Any) -> list[tuple[str, str]]:
    """(ST02, status) of every set of a report, with the envelope's verdict folded in."""
    found = []
    for isa in report.interchanges:
        isa_status = isa.status  # each status walks every set below it: once per envelope
        for group in isa.groups:
            group_status = group.status
            envelope = ""
            if "rejected" in (isa_status, group_status):
                envelope = f" (interchange {isa_status}, group {group_status})"
            for txn in group.transactions:
                found.append((txn.control_number, txn.status + envelope))
    return found


def status_kib(field_name: str) -> int | None:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``...), None where there is none."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    return None


def measure(path: Path) -> dict[str, Any]:
    """Imports, maps loaded and tables compiled (``prepare``), RSS noted, then
    ``validate(path, engine="fast")``: time, peak RSS and the verdict."""
    from gateway.validation import prepare, validate

    prepare("fast")
    before = {"rss_kib": status_kib("VmRSS"), "hwm_kib": peak_rss_kib()}
    started = time.perf_counter()
    report = validate(path, engine="fast")
    seconds = time.perf_counter() - started
    statuses = Counter(status for _, status in set_statuses(report))
    return {
        "before": before, "peak_kib": peak_rss_kib(), "rss_end_kib": status_kib("VmRSS"),
        "seconds": seconds, "accepted": report.accepted, "statuses": dict(statuses),
        "findings": [f"{f.element_name or f.segment or f.level}: {f.message}"
                     for f in report.all_findings()[:5]],
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))), flush=True)
