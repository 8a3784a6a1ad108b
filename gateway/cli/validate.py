"""``acorn validate PATH...``: validate X12 files against the maps.

Prints per file whether it is accepted, then each finding as
``file:offset SEG[pos] element NN: message``. ``--json`` prints the reports, ``--ack``
the acknowledgments (997 per group, or TA1 for a rejected interchange).
Exit 0 when everything is accepted, 1 when anything is rejected, 2 on a usage error or
a file that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from gateway.cli.setup import add_engine_argument
from gateway.validation import Finding, ValidationReport, acknowledge, validate
from gateway.x12 import serialize

STATUS_WORDS = {True: "accepted", False: "rejected"}


def add_validate(commands: Any) -> None:
    """Register the ``validate`` command."""
    parser = commands.add_parser(
        "validate",
        help="validate X12 files against the maps",
        description="Validate X12 files against the Amazon maps and print the findings.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="X12 file(s)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument(
        "--ack", action="store_true", help="print the 997 (or TA1) each file calls for"
    )
    parser.add_argument(
        "--control-number",
        type=int,
        default=1,
        metavar="N",
        help="first ISA13/GS06 for --ack (default 1); numbers follow consecutively",
    )
    add_engine_argument(parser)
    parser.set_defaults(run=run_validate)


def format_finding(path: str, finding: Finding) -> str:
    """One finding as ``file:offset SEG[pos] element NN: message``."""
    place = f"{path}:{finding.offset if finding.offset >= 0 else 0}"
    if finding.segment:
        place += f" {finding.segment}"
        if finding.position is not None:
            place += f"[{finding.position}]"
    if finding.element is not None:
        element = f"{finding.element:02d}"
        if finding.component:
            element += f"-{finding.component}"
        place += f" element {element}"
    return f"{place}: {finding.message}"


def _acknowledgments(report: ValidationReport, counter: list[int], when: datetime) -> list[str]:
    texts: list[str] = []
    for isa in report.interchanges:
        for ack in acknowledge(isa, next_control_number=counter[0], when=when):
            counter[0] += 1
            texts.append(serialize(ack).decode("utf-8", "surrogateescape"))
    return texts


def run_validate(args: argparse.Namespace) -> int:
    """Validate ``args.paths``; returns the exit code."""
    when = datetime.now(UTC)
    counter = [args.control_number]
    unreadable = False
    any_rejected = False
    documents: list[dict[str, Any]] = []
    for path in args.paths:
        try:
            report = validate(path, engine=args.engine)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            unreadable = True
            continue
        any_rejected |= not report.accepted
        acks = _acknowledgments(report, counter, when) if args.ack else []
        if args.json:
            document = report.to_dict()
            if args.ack:
                document["acknowledgments"] = acks
            documents.append(document)
            continue
        findings = report.all_findings()
        summary = STATUS_WORDS[report.accepted]
        if findings:
            summary += f" ({len(findings)} finding{'s' if len(findings) != 1 else ''})"
        print(f"{path}: {summary}")
        for finding in findings:
            print(format_finding(path, finding))
        for ack in acks:
            print(ack)
    if args.json:
        payload = {"accepted": not any_rejected and not unreadable, "reports": documents}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    if unreadable:
        return 2
    return 1 if any_rejected else 0
