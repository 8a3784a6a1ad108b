"""``acorn process``: one pass of everything (poll, process, deliver, outbox, send,
reconcile), then exit — for tests, cron users and the crash tests. ``acorn db upgrade``
applies the database migrations."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.cli.setup import (
    add_config_argument,
    add_engine_argument,
    open_pipeline,
    open_store,
)
from gateway.pipeline import run_once


def add_process(commands: Any) -> None:
    """Register ``process`` and ``db``."""
    parser = commands.add_parser(
        "process", help="run one pass of the whole pipeline and exit",
        description="Poll partners, process, deliver to the ERP, render exports, send, "
        "reconcile acknowledgments: once.",
    )  # fmt: skip
    add_config_argument(parser)
    add_engine_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(run=run_process)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply the migrations")
    add_config_argument(upgrade)
    upgrade.add_argument("--json", action="store_true", help="print the outcome as JSON")
    upgrade.set_defaults(run=run_db_upgrade)


def run_process(args: argparse.Namespace) -> int:
    """One pass; prints what it did."""
    pipeline = open_pipeline(args)
    try:
        summary = run_once(pipeline)
    finally:
        pipeline.store.dispose()
    figures = summary.as_dict()
    if args.json:
        extra = {"unreachable": pipeline.unreachable} if pipeline.unreachable else {}
        print(json.dumps({**figures, **extra}, indent=2))
    else:
        print(" ".join(f"{name}={value}" for name, value in figures.items()))
    for partner, reason in pipeline.unreachable.items():
        print(f"acorn: partner {partner} unreachable: {reason}", file=sys.stderr)
    # design.md exit codes: 3 when a transport could not be reached (the pass did the rest).
    return 3 if pipeline.unreachable else 0


def run_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured database to the current schema."""
    _config, store = open_store(args)
    if args.json:
        print(json.dumps({"database": store.safe_url, "current": store.schema_is_current()}))
    else:
        print(f"{store.safe_url}: up to date")
    store.dispose()
    return 0
