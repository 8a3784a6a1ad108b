"""``acorn chain PO``: a purchase order and everything that answered it.

The PO (when it arrived, from which interchange, whether it reached the ERP, its 855
clock), then each 855, 856 and 810 rendered for it with their interchange, whether it was
sent and the 997 the partner returned.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gateway.cli.setup import add_config_argument, open_store
from gateway.pipeline.operator import po_chain


def add_chain(commands: Any) -> None:
    """Register ``chain``."""
    parser = commands.add_parser(
        "chain", help="show a purchase order and its 855/856/810 with their 997s",
        description="Show a PO's chain: PO -> 855 -> 856 -> 810, each with its 997 "
        "(`acorn po status PO` shows the same with what is due).",
    )  # fmt: skip
    parser.add_argument("po_number", metavar="PO", help="the Amazon PO number (BEG03)")
    add_config_argument(parser)
    parser.add_argument("--partner", default=None, help="only this partner's documents")
    parser.add_argument("--json", action="store_true", help="print the chain as JSON")
    parser.set_defaults(run=run_chain)


def chain(store: Any, po_number: str, partner: str | None = None) -> list[dict[str, Any]]:
    """The documents of one PO, oldest first, each with its exchanges and acknowledgments
    (:func:`gateway.pipeline.operator.po_chain`, which ``acorn po status`` shows too)."""
    return po_chain(store, po_number, partner)


def run_chain(args: argparse.Namespace) -> int:
    """Print the chain; exit 1 when the PO is unknown."""
    _config, store = open_store(args)
    try:
        links = chain(store, args.po_number, args.partner)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps({"po_number": args.po_number, "documents": links}, indent=2))
        return 0 if links else 1
    if not links:
        print(f"{args.po_number}: no document for this PO")
        return 1
    for link in links:
        print(f"{link['type']:<18} {link['business_key']:<20} {link['state']:<10}"
              f" {link['created_at']}  {link['file']}")  # fmt: skip
        if link["type"] == "purchase_order":
            print(f"    855 clock: {link['po_ack_state']}")
        for sent in link.get("sent", []):
            for env in sent["envelopes"]:
                print(f"    ISA13 {env['isa13']} GS06 {env['gs06']} ST02 {env['st02']}"
                      f"  {sent['state']}  997: {env['group_ack'] or '-'}")  # fmt: skip
    return 0
