"""``acorn po status PO``: a purchase order's chain and what is due.

The 850 (when received, in which exchange, ISA13/GS06/ST02, delivered to the ERP or not)
and the 997 we sent for it; each 855, 856 and 810 rendered for it with its interchange,
whether it was sent (with the AS2 MDN disposition) and the 997 the partner returned; and
what is due: the 855 by the PO's arrival + ``gateway.po_ack_due_hours``, with the time
left or how late it is, and whether an 856 and an 810 exist. ``acorn chain PO`` prints
the same chain in its older, shorter form.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.cli.setup import add_config_argument, open_store
from gateway.pipeline.operator import po_status, printable, span
from gateway.store import utcnow

_NAMES = {"855": "855 acknowledgment", "856": "856 ship notice", "810": "810 invoice"}


def add_po(commands: Any) -> None:
    """Register ``po``."""
    po = commands.add_parser(
        "po", help="purchase orders: their chain and what is due",
        description="A purchase order's documents and what is due.",
    )  # fmt: skip
    actions = po.add_subparsers(dest="po_command", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status", help="a PO's 850, 997, 855, 856, 810 and what is due",
        description="The PO's chain: 850 (and our 997), each 855/856/810 with its "
        "interchange, send state and the partner's 997, and what is due (the 855 deadline, "
        "whether an 856 and an 810 exist).",
    )  # fmt: skip
    status.add_argument("po_number", metavar="PO", help="the Amazon PO number (BEG03)")
    add_config_argument(status)
    status.add_argument("--partner", default=None, help="only this partner's documents")
    status.add_argument("--json", action="store_true", help="print it as one JSON object")
    status.set_defaults(run=run_po_status)


def _print_order(link: dict[str, Any]) -> None:
    print(f"  850  received {link['received_at']} in exchange {link['exchange']} "
          f"({printable(link['file'])}, {link['exchange_state']})")  # fmt: skip
    if link["isa13"]:
        print(f"       ISA13 {link['isa13']}  GS06 {link['gs06']}  ST02 {link['st02']}")
    if link["delivered_at"]:
        print(f"       ERP: delivered {link['delivered_at']} as "
              f"{printable(link['delivery_name'] or '-')}")  # fmt: skip
    else:
        print(f"       ERP: not delivered yet ({link['state']})")
    for ack in link["our_997"]:
        ak9 = f", AK9 {ack['ak9']}" if ack["ak9"] else ""
        print(f"       our 997: exchange {ack['exchange']} {ack['state']} "
              f"(ISA13 {ack['isa13'] or '-'}{ak9})")  # fmt: skip
    if not link["our_997"]:
        print("       our 997: none")


def _print_answer(link: dict[str, Any]) -> None:
    print(f"  {link['set']}  {link['type']} {printable(link['business_key'])} "
          f"{link['state']} {link['created_at']} from export {link['exchange']} "
          f"({printable(link['file'])})")  # fmt: skip
    for sent in link["sent"]:
        as2 = ""
        if sent["as2"]:
            as2 = f"  AS2 {sent['as2']['status']}: {sent['as2']['disposition'] or 'no MDN yet'}"
        ack = sent["acknowledgment"]
        if ack is None:
            said = "none awaited"
        elif ack["status"] == "pending":
            said = f"pending (due {ack['due_at']})"
        else:
            by = f" (exchange {ack['exchange']})" if ack["exchange"] else ""
            said = f"{ack['status']}{by}"
        print(f"       exchange {sent['exchange']} ISA13 {sent['isa13'] or '-'} "
              f"{sent['state']}{as2}  997: {said}")  # fmt: skip
        for copy in sent["resends"]:
            print(f"         resent as exchange {copy['exchange']} {copy['state']}")


def _print_due(due: dict[str, Any]) -> None:
    print("due")
    for set_id, item in due.items():
        state = item["state"]
        if state == "sent":
            text = f"sent (exchange {item['exchange']}, 997 {item['ack'] or 'none'})"
        elif state == "queued":
            text = f"rendered, not sent yet (export {item['exchange']})"
        elif state == "due":
            text = f"due by {item['deadline']} ({span(item['seconds_left'])} left)"
        elif state == "late":
            text = f"late by {span(item['seconds_left'])} (deadline {item['deadline']})"
        else:
            text = "none yet"
        print(f"  {_NAMES[set_id]:<20} {text}")


def run_po_status(args: argparse.Namespace) -> int:
    """Print the PO's status; exit 1 when no document has this PO number."""
    config, store = open_store(args)
    try:
        status = po_status(store, config, args.po_number, utcnow(), args.partner)
    finally:
        store.dispose()
    if status is None:
        if args.json:
            print(json.dumps({"po_number": args.po_number, "documents": []}, indent=2))
        print(f"acorn: no document for PO {args.po_number}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"PO {printable(args.po_number)} ({', '.join(status['partners'])})")
    for link in status["documents"]:
        if link["type"] == "purchase_order":
            _print_order(link)
        else:
            _print_answer(link)
    _print_due(status["due"])
    return 0
