"""``acorn demo [--dir demo]``: the whole gateway against the simulated Amazon, on loopback
(:mod:`gateway.sandbox.demo`). Exit 0 when every document was accepted and every PO's chain
is complete, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_demo(commands: Any) -> None:
    """Register ``demo``."""
    parser = commands.add_parser(
        "demo", help="run the gateway against a simulated Amazon (3 POs, full cycle)",
        description="3 POs over AS2 -> ERP -> 855/856/810 -> Amazon's checks and 997s; "
        "prints the transaction log and each PO's chain. Leaves DIR to explore.",
    )  # fmt: skip
    parser.add_argument("--dir", type=Path, default=Path("demo"), help="directory (demo/)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per step")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(run=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo; 0 when it all went through."""
    from gateway.cli import main as acorn
    from gateway.sandbox.demo import run_demo

    result = run_demo(args.dir, out=sys.stderr if args.json else sys.stdout,
                      timeout=args.timeout)  # fmt: skip
    if args.json:
        print(json.dumps({"ok": result.ok, "directory": str(result.directory),
                          "po_numbers": result.po_numbers, "amazon_received": result.amazon_sets,
                          "rejected": result.rejected, "chains": result.chains}))  # fmt: skip
        return 0 if result.ok else 1
    config = str(result.config)
    print("\n== transaction log (acorn tx list) ==", flush=True)
    acorn(["tx", "list", "--config", config, "--limit", "100"])
    for po in result.po_numbers:
        print(f"\n== PO {po} (acorn po status {po}) ==", flush=True)
        acorn(["po", "status", po, "--config", config])
    verdict = ("every document accepted, every chain complete" if result.ok else
               f"NOT complete: {json.dumps(result.rejected) if result.rejected else 'see above'}")
    print(f"\ndemo: {verdict}. The demo directory stays: {result.directory}")
    return 0 if result.ok else 1
