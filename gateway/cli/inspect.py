"""``acorn inspect PATH``: print the envelope tree of an X12 file.

Interchanges, groups and transaction sets with their control numbers, parties, versions,
segment counts and byte offsets, plus any envelope issue found while reading. Exit 0
when the envelope is sound, 1 when it has issues, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.x12 import EnvelopeIssue, X12Document, parse


def add_inspect(commands: Any) -> None:
    """Register the ``inspect`` command."""
    parser = commands.add_parser(
        "inspect",
        help="print the envelope tree of an X12 file",
        description="Print interchanges, groups and sets with control numbers and counts.",
    )
    parser.add_argument("path", metavar="PATH", help="X12 file")
    parser.add_argument("--json", action="store_true", help="print the tree as JSON")
    parser.set_defaults(run=run_inspect)


def _issue(issue: EnvelopeIssue) -> dict[str, Any]:
    return {
        "level": issue.level,
        "code": issue.code,
        "message": issue.message,
        "offset": issue.offset,
        "segment": issue.segment,
        "element": issue.element,
    }


def document_tree(document: X12Document) -> dict[str, Any]:
    """The envelope tree as JSON-ready data."""
    interchanges = []
    for isa in document.interchanges:
        groups = []
        for group in isa.groups:
            sets = [
                {
                    "set_id": txn.set_id,
                    "control_number": txn.control_number,
                    "segments": len(txn.all_segments()),
                    "declared_segments": txn.trailer.text(1) if txn.trailer else None,
                    "offset": txn.header.offset,
                    "issues": [_issue(i) for i in txn.issues],
                }
                for txn in group.transactions
            ]
            groups.append(
                {
                    "functional_id": group.functional_id,
                    "control_number": group.control_number,
                    "sender": group.header.text(2),
                    "receiver": group.header.text(3),
                    "version": group.version,
                    "declared_sets": group.trailer.text(1) if group.trailer else None,
                    "offset": group.header.offset,
                    "issues": [_issue(i) for i in group.issues],
                    "transactions": sets,
                }
            )
        d = isa.delimiters
        interchanges.append(
            {
                "control_number": isa.control_number,
                "sender": list(isa.sender),
                "receiver": list(isa.receiver),
                "version": isa.version,
                "usage": isa.header.text(15),
                "delimiters": {
                    "element": d.element,
                    "component": d.component,
                    "segment": d.segment,
                    "repetition": d.repetition,
                },
                "declared_groups": isa.trailer.text(1) if isa.trailer else None,
                "offset": isa.header.offset,
                "issues": [_issue(i) for i in isa.issues],
                "groups": groups,
            }
        )
    return {"interchanges": interchanges, "issues": [_issue(i) for i in document.issues]}


def _print_issues(issues: list[dict[str, Any]], indent: str) -> None:
    for issue in issues:
        print(f"{indent}! {issue['segment'] or '-'} @{issue['offset']}: {issue['message']}")


def run_inspect(args: argparse.Namespace) -> int:
    """Print the tree of ``args.path``; returns the exit code."""
    try:
        document = parse(args.path)
    except OSError as exc:
        print(f"{args.path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    tree = document_tree(document)
    has_issues = bool(document.all_issues())
    if args.json:
        print(json.dumps({"path": args.path, **tree}, indent=2, ensure_ascii=False))
        return 1 if has_issues else 0
    print(args.path)
    _print_issues(tree["issues"], "  ")
    for isa in tree["interchanges"]:
        d = isa["delimiters"]
        delims = f"{d['element']} {d['component']} {d['segment']!r}"
        if d["repetition"]:
            delims += f" {d['repetition']}"
        print(
            f"  interchange ISA13 {isa['control_number']}  {'/'.join(isa['sender'])} ->"
            f" {'/'.join(isa['receiver'])}  ISA12 {isa['version']} {isa['usage']}"
            f"  delimiters {delims}  {len(isa['groups'])} group(s)  @{isa['offset']}"
        )
        _print_issues(isa["issues"], "    ")
        for group in isa["groups"]:
            print(
                f"    group {group['functional_id']} GS06 {group['control_number']}"
                f"  {group['sender']} -> {group['receiver']}  GS08 {group['version']}"
                f"  {len(group['transactions'])} set(s)  @{group['offset']}"
            )
            _print_issues(group["issues"], "      ")
            for txn in group["transactions"]:
                print(
                    f"      set {txn['set_id']} ST02 {txn['control_number']}"
                    f"  {txn['segments']} segments  @{txn['offset']}"
                )
                _print_issues(txn["issues"], "        ")
    return 1 if has_issues else 0
