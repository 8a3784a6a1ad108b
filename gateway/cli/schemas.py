"""``acorn schemas``: the JSON Schemas of the ERP documents, the ERP integrators' contract.

``--write`` writes one ``<type>.schema.json`` per document into ``schemas/`` (or
``--dir``); ``--check`` exits 1 when a file is missing or differs from the models;
without either, lists each schema and whether it is current.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateway.erp import DOCUMENT_TYPES, json_schema

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def add_schemas(commands: Any) -> None:
    """Register the ``schemas`` command."""
    parser = commands.add_parser(
        "schemas",
        help="write or check the JSON Schemas of the ERP documents",
        description="The JSON Schemas of the ERP documents (generated from the models).",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write the schema files")
    action.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="schema directory")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.set_defaults(run=run_schemas)


def schema_texts() -> dict[str, str]:
    """File name -> the exact text of every document's schema (sorted keys, 2-space indent)."""
    return {
        f"{name}.schema.json": json.dumps(json_schema(model), indent=2, sort_keys=True) + "\n"
        for name, model in DOCUMENT_TYPES.items()
    }


def run_schemas(args: argparse.Namespace) -> int:
    """Write, check or list the schemas; returns the exit code."""
    texts = schema_texts()
    if args.write:
        args.dir.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (args.dir / name).write_text(text, encoding="utf-8")
    status = {}
    for name, text in texts.items():
        path = args.dir / name
        current = path.is_file() and path.read_text(encoding="utf-8") == text
        status[name] = "current" if current else ("stale" if path.exists() else "missing")
    if args.json:
        print(json.dumps({"dir": str(args.dir), "schemas": status}, indent=2))
    else:
        for name, state in status.items():
            print(f"{args.dir / name}: {'written' if args.write else state}")
    stale = any(state != "current" for state in status.values())
    return 1 if stale and (args.check or not args.write) else 0
