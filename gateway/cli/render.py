"""``acorn render FILE.json``: an ERP export as a validated X12 interchange.

The document is read (problems by JSON path), checked against Amazon's business rules
(with the PO given by ``--po``, and the 855 by ``--acknowledgment``, for the
cross-document checks), rendered, and the interchange validated against the maps before it
is printed. A document that breaks a rule or a map exits 1 with each finding; nothing is
printed on stdout then. Warnings are printed on stderr and do not stop the rendering.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gateway.cli.setup import add_engine_argument
from gateway.cli.validate import format_finding
from gateway.erp import Problem, parse_document
from gateway.errors import ErpDocumentError, MappingError, X12WriteError
from gateway.mapping import RELEASES, render
from gateway.rules import check
from gateway.validation import validate
from gateway.x12 import Party, serialize


def _party(text: str) -> Party:
    qualifier, sep, identifier = text.partition(":")
    if not sep or not 1 <= len(qualifier) <= 2 or not 1 <= len(identifier) <= 15:
        raise argparse.ArgumentTypeError(f"{text!r} is not QUALIFIER:ID (e.g. ZZ:AMAZON)")
    return Party(qualifier, identifier)


def add_render(commands: Any) -> None:
    """Register the ``render`` command."""
    parser = commands.add_parser(
        "render",
        help="ERP JSON -> a validated X12 interchange",
        description="Check an ERP export against Amazon's rules and print it as X12.",
    )
    parser.add_argument("path", metavar="FILE.json", help="ERP document")
    parser.add_argument("--po", type=Path, metavar="PO.json", help="the purchase order")
    parser.add_argument("--acknowledgment", type=Path, metavar="855.json",
                        help="the 855 (checks 856 quantities and 810 prices)")  # fmt: skip
    parser.add_argument("--release", choices=sorted(RELEASES), default="004010",
                        help="GS08 release (the 856 may be 005010)")  # fmt: skip
    parser.add_argument("--sender", type=_party, default=Party("ZZ", "VENDOR"),
                        metavar="QUAL:ID", help="ISA05:ISA06 (default ZZ:VENDOR)")  # fmt: skip
    parser.add_argument("--receiver", type=_party, default=Party("ZZ", "AMAZON"),
                        metavar="QUAL:ID", help="ISA07:ISA08 (default ZZ:AMAZON)")  # fmt: skip
    parser.add_argument("--control-number", type=int, default=1, metavar="N",
                        help="ISA13 and GS06 (default 1)")  # fmt: skip
    parser.add_argument("--usage", choices=("P", "T"), default="P", help="ISA15")
    parser.add_argument("--timestamp", type=datetime.fromisoformat, default=None,
                        help="ISA09/ISA10, GS04/GS05 (default now, UTC)")  # fmt: skip
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="the date rules compare against (default today)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print a JSON result")
    add_engine_argument(parser)
    parser.set_defaults(run=run_render)


def _read(path: Path) -> Any:
    try:
        return parse_document(path.read_bytes())
    except ErpDocumentError as exc:
        raise _Refused(exc.problems, path) from exc


class _Refused(Exception):
    """An input document (the export, the PO or the 855) is refused."""

    def __init__(self, problems: list[Problem], path: Path) -> None:
        super().__init__(str(path))
        self.problems = problems
        self.path = path


def run_render(args: argparse.Namespace) -> int:
    """Render ``args.path``; returns the exit code."""
    try:
        document = _read(Path(args.path))
        po = _read(args.po) if args.po else None
        ack = _read(args.acknowledgment) if args.acknowledgment else None
    except OSError as exc:
        print(f"{exc.filename}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except _Refused as refused:
        return _refuse(args, refused.problems, [], refused.path)
    problems = check(document, purchase_order=po, acknowledgment=ack, today=args.today)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if errors:
        return _refuse(args, problems, [])
    try:
        interchange = render(
            document,
            sender=args.sender,
            receiver=args.receiver,
            interchange_control_number=args.control_number,
            group_control_number=args.control_number,
            when=args.timestamp or datetime.now(UTC),
            release=args.release,
            usage=args.usage,
        )
        text = serialize(interchange)
    except (MappingError, X12WriteError) as exc:
        return _refuse(args, [*problems, Problem("$", str(exc), "mapping")], [])
    report = validate(text, name=args.path, engine=args.engine)
    if not report.accepted:
        # The models and rules let through only what the maps accept; a map finding here
        # names an X12 element (there is no JSON path to give).
        found = [format_finding("X12", f) for f in report.all_findings()]
        return _refuse(args, problems, found)
    for warning in warnings:
        print(f"{args.path}: warning: {warning}", file=sys.stderr)
    rendered = text.decode("utf-8")
    if args.json:
        print(json.dumps({"accepted": True, "problems": [_problem(p) for p in problems],
                          "interchange": rendered}, indent=2))  # fmt: skip
    else:
        print(rendered)
    return 0


def _problem(problem: Problem) -> dict[str, str]:
    return {"path": problem.path, "code": problem.code, "severity": problem.severity,
            "message": problem.message}  # fmt: skip


def _refuse(
    args: argparse.Namespace,
    problems: list[Problem],
    x12_findings: list[str],
    source: Path | None = None,
) -> int:
    """Report why nothing is rendered (``source``: the file the problems are in)."""
    where = str(source or args.path)
    if args.json:
        print(json.dumps({"accepted": False, "file": where,
                          "problems": [_problem(p) for p in problems],
                          "x12_findings": x12_findings}, indent=2))  # fmt: skip
    else:
        for problem in problems:
            print(f"{where}: {problem.severity}: {problem}", file=sys.stderr)
        for finding in x12_findings:
            print(f"{args.path}: error: {finding}", file=sys.stderr)
    return 1
