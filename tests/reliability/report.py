"""reliability-report.md from the battery's JSON lines (``make reliability``).

    python -m tests.reliability.report RESULTS.jsonl reliability-report.md [--seconds S]

One section per row of reliability.md's battery (T1..T14): per test and database, the
inputs tried and the figures (lost, delivered twice, unhandled exceptions, time to
recover), its outcome and duration; a row of the battery without any test, or a test that
did not pass, is named in the summary, and the exit status is 1 then.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.reliability.battery import TESTS

REPO = Path(__file__).resolve().parents[2]


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, check=True)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()  # fmt: skip
        return out.stdout.strip() + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()} on "
            f"{platform.platform()}")  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def load(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of one battery run (the last line of a test wins: a rerun replaces)."""
    lines: dict[str, dict[str, Any]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            line = json.loads(raw)
            lines[line["case"]] = line
    return list(lines.values())


def render(lines: list[dict[str, Any]], *, wall_seconds: float | None = None) -> tuple[str, bool]:
    """The markdown report and whether the battery passed: every row of the battery has at
    least one test, every test passed, and every figure that must be zero is zero."""
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_test[line["test"]].append(line)
    scales = sorted({line["scale"] for line in lines}) or ["none"]
    failed = [line for line in lines if line["outcome"] != "passed"]
    missing = [t for t in TESTS if t not in by_test]
    totals = defaultdict(int)
    for line in lines:
        for f in line["figures"]:
            for key in ("inputs", "lost", "delivered_twice", "unhandled_exceptions"):
                totals[key] += f[key]
    ok = not failed and not missing and lines != []
    out = [
        "# Reliability battery report",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {_commit()}, scale "
        f"{', '.join(scales)} (`make reliability`; reliability.md section 4, issue 11).",
        f"Machine: {_machine()}.",
        "",
        f"**{'PASSED' if ok else 'FAILED'}**: {len(lines)} tests, "
        f"{len(lines) - len(failed)} passed, {len(failed)} failed; "
        f"{totals['inputs']:,} inputs, {totals['lost']} lost, "
        f"{totals['delivered_twice']} delivered twice, "
        f"{totals['unhandled_exceptions']} unhandled exceptions; "
        f"test time {sum(line['seconds'] for line in lines) / 60:.1f} min"
        + (f", wall time {wall_seconds / 60:.1f} min" if wall_seconds else "") + ".",
    ]
    if missing:
        out.append(f"Rows of the battery without a test: {', '.join(missing)}.")
    for line in failed:
        out.append(f"- failed: `{line['case']}`: {_cell(line.get('failure', ''))[-300:]}")
    out += ["", "| test | databases | tests | inputs | lost | delivered twice | "
            "unhandled exceptions | longest recovery (s) | outcome |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for test_id, title in TESTS.items():
        rows = by_test.get(test_id, [])
        figures = [f for line in rows for f in line["figures"]]
        recoveries = [f["time_to_recover"] for f in figures if f["time_to_recover"] is not None]
        passed = sum(line["outcome"] == "passed" for line in rows)
        out.append(
            f"| {test_id} {title} | {', '.join(sorted({r['database'] for r in rows}))} | "
            f"{len(rows)} | {_cell(sum(f['inputs'] for f in figures))} | "
            f"{sum(f['lost'] for f in figures)} | {sum(f['delivered_twice'] for f in figures)} | "
            f"{sum(f['unhandled_exceptions'] for f in figures)} | "
            f"{_cell(max(recoveries) if recoveries else None)} | "
            f"{'missing' if not rows else f'{passed}/{len(rows)} passed'} |"
        )
    for test_id, title in TESTS.items():
        rows = sorted(by_test.get(test_id, []), key=lambda line: line["case"])
        out += ["", f"## {test_id} {title}", ""]
        if not rows:
            out.append("No test ran.")
            continue
        out += ["| case | database | inputs | what | lost | twice | unhandled | recover (s) | "
                "other figures | s | outcome |",
                "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
        for line in rows:
            for f in line["figures"] or [None]:
                if f is None:
                    out.append(f"| `{line['case']}` | {line['database']} | | no figures | | | | "
                               f"| | {line['seconds']:.1f} | {line['outcome']} |")
                    continue
                measures = ", ".join(f"{k} {_cell(v)}" for k, v in f["measures"].items())
                out.append(
                    f"| `{_cell(line['case'])}` | {line['database']} | {_cell(f['inputs'])} | "
                    f"{_cell(f['what'])} | {f['lost']} | {f['delivered_twice']} | "
                    f"{f['unhandled_exceptions']} | {_cell(f['time_to_recover'])} | "
                    f"{measures} | {line['seconds']:.1f} | {line['outcome']} |"
                )
    return "\n".join(out) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    """Write the report; exit 1 when the battery did not pass (see :func:`render`)."""
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.report")
    parser.add_argument("results", type=Path, help="the JSON lines of a battery run")
    parser.add_argument("report", type=Path, help="the markdown report to write")
    parser.add_argument("--seconds", type=float, default=None, help="the run's wall time")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(f"{args.results}: no battery results (did the run start?)", file=sys.stderr)
        return 1
    text, ok = render(load(args.results), wall_seconds=args.seconds)
    args.report.write_text(text, encoding="utf-8")
    print(f"wrote {args.report}: {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
