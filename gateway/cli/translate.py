"""``acorn translate FILE.edi``: the ERP JSON of every transaction set in an X12 file.

The file is validated first; only accepted sets are translated (a rejected set is listed
with its findings on stderr). Without ``--out`` the documents are printed as one JSON
array; with ``--out DIR`` each is written to ``DIR/<type>-<key>.json`` (key: PO number,
shipment id, invoice number, advice number, or the group control number of a 997).
Exit 0 when every set was translated, 1 when any was rejected or could not be mapped,
2 on a usage error or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli.setup import add_engine_argument
from gateway.cli.validate import format_finding
from gateway.erp import Source, document_json
from gateway.errors import MappingError
from gateway.mapping import translate
from gateway.validation import validate_document


def add_translate(commands: Any) -> None:
    """Register the ``translate`` command."""
    parser = commands.add_parser(
        "translate",
        help="X12 file -> the ERP JSON of every set",
        description="Validate an X12 file and write the ERP JSON of every accepted set.",
    )
    parser.add_argument("path", metavar="FILE.edi", help="X12 file")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write one file per document")
    parser.add_argument("--partner", default=None, help="partner name to record in `source`")
    parser.add_argument("--json", action="store_true",
                        help="with --out, list the files written as JSON (the documents are "
                        "JSON already)")  # fmt: skip
    add_engine_argument(parser)
    parser.set_defaults(run=run_translate)


def document_key(document: Any) -> str:
    """The business key that names a document's file."""
    for field in ("po_number", "shipment_id", "invoice_number", "advice_number"):
        value = getattr(document, field, None)
        if value:
            return str(value)
    return f"{document.functional_id}-{document.group_control_number}"


def run_translate(args: argparse.Namespace) -> int:
    """Translate ``args.path``; returns the exit code."""
    try:
        data = Path(args.path).read_bytes()
    except OSError as exc:
        print(f"{args.path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    report, tree = validate_document(data, name=args.path, engine=args.engine)
    failed = bool(report.findings)
    for finding in report.findings:
        print(format_finding(args.path, finding), file=sys.stderr)
    documents: list[Any] = []
    # The report and the tree come from the same bytes; where reading stopped early the
    # report holds the cut interchange too, and the document finding above says why.
    for isa, isa_report in zip(tree.interchanges, report.interchanges, strict=False):
        for group, group_report in zip(isa.groups, isa_report.groups, strict=False):
            for txn, txn_report in zip(group.transactions, group_report.transactions,
                                       strict=False):  # fmt: skip
                place = f"{args.path}: set {txn.set_id} {txn.control_number}"
                if txn_report.status == "rejected" or group_report.status == "rejected":
                    failed = True
                    print(f"{place} is rejected; not translated", file=sys.stderr)
                    for finding in txn_report.findings + group_report.findings:
                        print(format_finding(args.path, finding), file=sys.stderr)
                    continue
                source = Source(
                    partner=args.partner,
                    sender=":".join(isa.sender),
                    interchange_control_number=isa.control_number,
                    group_control_number=group.control_number,
                    transaction_control_number=txn.control_number,
                )
                try:
                    documents.append(translate(txn, source=source))
                except MappingError as exc:
                    failed = True
                    print(f"{place}: {exc}", file=sys.stderr)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        written = []
        for document in documents:
            path = args.out / f"{document.type}-{document_key(document)}.json"
            path.write_text(document_json(document), encoding="utf-8")
            written.append(str(path))
        print(json.dumps({"written": written}) if args.json else "\n".join(written))
    else:
        print("[\n" + ",\n".join(document_json(d).rstrip("\n") for d in documents) + "\n]")
    return 1 if failed else 0
