"""``acorn sandbox``: rehearse Amazon's onboarding against your gateway
(:mod:`gateway.sandbox.rehearsal`). Run your gateway (``acorn run``) beside it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli.setup import add_config_argument
from gateway.config import load_config


def add_sandbox(commands: Any) -> None:
    """Register ``sandbox``."""
    parser = commands.add_parser(
        "sandbox", help="a simulated Amazon for your gateway: sends POs, checks your answers",
        description="Send the scenarios' 850s to your partner and answer every document your "
        "gateway sends with a 997, like Amazon; prints each verdict.",
    )  # fmt: skip
    add_config_argument(parser)
    parser.add_argument("--partner", default="amazon", help="the partner Amazon plays")
    parser.add_argument("--port", type=int, default=4080, help="Amazon's AS2 port (4080)")
    parser.add_argument("--minutes", type=float, default=10, help="how long to answer (10)")
    parser.add_argument("--dir", type=Path, default=Path("sandbox-amazon"),
                        help="Amazon's own directory (store, configuration)")  # fmt: skip
    parser.add_argument("--scenarios", type=Path, default=None, help="scenario files' folder")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    parser.set_defaults(run=run_sandbox)


def run_sandbox(args: argparse.Namespace) -> int:
    """Rehearse; exit 1 when Amazon rejected anything."""
    from gateway.sandbox.rehearsal import SCENARIOS, describe, rehearse

    config = load_config(args.config)
    seen = rehearse(config, partner=args.partner, root=args.dir, port=args.port,
                    minutes=args.minutes, scenarios=args.scenarios or SCENARIOS,
                    out=sys.stderr if args.json else sys.stdout)  # fmt: skip
    if args.json:
        print(json.dumps({"seen": [{"sets": s.sets, "accepted": s.accepted,
                                    "verdict": describe(s)} for s in seen]}))  # fmt: skip
    return 0 if all(s.accepted for s in seen) else 1
