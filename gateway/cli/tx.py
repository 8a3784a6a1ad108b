"""``acorn tx``: the operator's view of every exchange, and the actions on them.

* ``tx list``: exchanges, newest first, filtered and paginated.
* ``tx show ID``: one exchange with everything linked to it, its raw X12 one segment per
  line with the findings marked.
* ``tx resend ID...``: an outbound partner exchange sent again.
* ``tx reprocess ID...`` / ``tx reprocess --filter ...``: inbound exchanges processed
  again as new exchanges (see :mod:`gateway.pipeline.operator` for why nothing is ever
  delivered or sent twice).

Exit codes (design.md): 0 ok; 1 not found or an action refused; 2 usage or configuration;
3 ``--now`` could not reach a partner.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from gateway.cli.setup import (
    add_config_argument,
    add_engine_argument,
    open_pipeline,
    open_store,
)
from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.operator import (
    Outcome,
    exchange_view,
    printable,
    reprocess,
    reprocess_candidates,
    resend,
    summary_json,
)
from gateway.store import utcnow
from gateway.store.operator import ExchangeFilter, ExchangeSummary

_AGE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SET = re.compile(r"\d{3}")


def parse_since(value: str) -> datetime:
    """``--since``: an ISO date or datetime (UTC unless it says otherwise) or an age such
    as ``24h``, ``7d``, ``30m``, ``2w``; the naive UTC timestamp the store compares."""
    age = _AGE.fullmatch(value.strip())
    if age:
        return utcnow() - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected an ISO date or datetime (2026-11-24, 2026-11-24T08:00Z) "
            "or an age (24h, 7d)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _set_id(value: str) -> str:
    if not _SET.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: an X12 set id is three digits (850)")
    return value


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be 1 or more")
    return number


def _not_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value}: must be 0 or more")
    return number


_FILTERS = ("partner", "set_id", "states", "direction", "channel", "since", "po", "invoice",
            "shipment")  # fmt: skip


def _add_filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (every one given must match)")
    group.add_argument("--partner", help="the partner's name (an export: the partner of its "
                       "document)")  # fmt: skip
    group.add_argument("--set", dest="set_id", type=_set_id, metavar="SET",
                       help="an X12 set of its transactions (850, 855, 856, 810, 997...); an "
                       "ERP export by its document (855 = po_acknowledgment...)")  # fmt: skip
    group.add_argument("--state", dest="states", action="append", default=[], metavar="STATE",
                       help="its state (repeatable): received, delivering, delivered, "
                       "processed, rejected, duplicate, quarantined, superseded, rendered, "
                       "queued, staged, awaiting_mdn, sent, failed")  # fmt: skip
    group.add_argument("--direction", choices=["in", "out"], help="as seen from the gateway")
    group.add_argument("--channel", choices=["partner", "erp"], help="X12 with a partner, or "
                       "an ERP export")  # fmt: skip
    group.add_argument("--since", type=parse_since, metavar="WHEN",
                       help="created at or after WHEN: an ISO date or datetime (UTC unless "
                       "given) or an age (24h, 7d)")  # fmt: skip
    group.add_argument("--po", help="a PO number (its documents, or BEG03/BAK03)")
    group.add_argument("--invoice", help="an invoice number (810 BIG02)")
    group.add_argument("--shipment", help="a shipment id (856 BSN02)")


def _filter(args: argparse.Namespace) -> ExchangeFilter:
    return ExchangeFilter(
        partner=args.partner, set_id=args.set_id, states=tuple(args.states),
        direction=args.direction, channel=args.channel, since=args.since,
        po_number=args.po, invoice=args.invoice, shipment=args.shipment,
    )  # fmt: skip


def _filtered(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) for name in _FILTERS)


def add_tx(commands: Any) -> None:
    """Register ``tx`` and its actions."""
    tx = commands.add_parser(
        "tx", help="inspect and act on exchanges (list, show, resend, reprocess)",
        description="Every file or message the gateway received or sent, its state, "
        "envelopes, timeline and bytes; resend and reprocess.",
    )  # fmt: skip
    actions = tx.add_subparsers(dest="tx_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", help="list exchanges, newest first",
        description="Exchanges, newest first, filtered and paginated.",
    )  # fmt: skip
    add_config_argument(listing)
    _add_filters(listing)
    listing.add_argument("--limit", type=_positive, default=50, help="rows per page (50)")
    listing.add_argument("--offset", type=_not_negative, default=0, help="rows to skip (0)")
    listing.add_argument("--json", action="store_true",
                         help='print {"exchanges": [...], "total": N}')  # fmt: skip
    listing.set_defaults(run=run_list)

    show = actions.add_parser(
        "show", help="one exchange with everything linked to it",
        description="One exchange: its row, envelopes, timeline, raw X12 one segment per "
        "line with the findings marked, documents, linked exchanges, 997s, AS2 evidence.",
    )  # fmt: skip
    show.add_argument("exchange_id", type=int, metavar="ID", help="the exchange id")
    add_config_argument(show)
    show.add_argument("--json", action="store_true", help="print it as one JSON object")
    show.set_defaults(run=run_show)

    again = actions.add_parser(
        "resend", help="send an outbound exchange again",
        description="A failed outbound exchange goes back to queued (AS2: a new message "
        "with a new Message-ID); a sent one is copied under a new name and queued. The next "
        "`acorn process` (or the daemon, or --now) sends it.",
    )  # fmt: skip
    again.add_argument("exchange_ids", type=int, nargs="+", metavar="ID", help="exchange ids")
    add_config_argument(again)
    again.add_argument("--now", action="store_true", help="run one pipeline pass after")
    again.add_argument("--json", action="store_true", help='print {"resent": [...]}')
    again.set_defaults(run=run_resend)

    redo = actions.add_parser(
        "reprocess", help="process inbound exchanges again (after a fix)",
        description="Inbound partner X12 (rejected, quarantined; duplicate with --force) and "
        "rejected ERP exports are processed again as new exchanges; the earlier one becomes "
        "superseded. A purchase order already delivered is never delivered again, an export "
        "already rendered never sent twice. Give IDs, or --filter with the filters of `tx "
        "list` (without --state: every exchange that may be reprocessed).",
    )  # fmt: skip
    redo.add_argument("exchange_ids", type=int, nargs="*", metavar="ID", help="exchange ids")
    redo.add_argument("--filter", action="store_true",
                      help="select the exchanges with the filters instead of IDs")  # fmt: skip
    _add_filters(redo)
    add_config_argument(redo)
    add_engine_argument(redo)
    redo.add_argument("--force", action="store_true",
                      help="also reprocess duplicate interchanges")  # fmt: skip
    redo.add_argument("--now", action="store_true", help="run one pipeline pass after")
    redo.add_argument("--json", action="store_true",
                      help='print {"reprocessed": [...], "refused": [...]}')  # fmt: skip
    redo.set_defaults(run=run_reprocess, parser=redo)


# -- tx list ---------------------------------------------------------------------------------


def _cut(text: str | None, width: int) -> str:
    value = printable(" ".join((text or "").split()))
    return value if len(value) <= width else value[: width - 3] + "..."


def _sets(summary: ExchangeSummary) -> str:
    return ",".join(f"{s}x{n}" if n > 1 else s for s, n in summary.sets.items())


def _keys(summary: ExchangeSummary) -> str:
    keys = [f"PO:{k}" for k in summary.po_numbers] + [f"INV:{k}" for k in summary.invoices]
    return " ".join(keys + [f"SH:{k}" for k in summary.shipments])


def run_list(args: argparse.Namespace) -> int:
    """Print one page of exchanges; exit 0 (an empty page too)."""
    _config, store = open_store(args)
    where = _filter(args)
    try:
        with store.transaction() as tx:
            total = tx.count_exchanges(where)
            rows = tx.list_exchanges(where, limit=args.limit, offset=args.offset)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps({"exchanges": [summary_json(s) for s in rows], "total": total},
                         indent=2))  # fmt: skip
        return 0
    if not rows:
        print(f"no exchange (of {total} matching)" if total else "no exchange matches")
        return 0
    table = [("ID", "CREATED (UTC)", "DIR", "CHANNEL", "PARTNER", "SETS", "STATE", "FILE",
              "KEYS", "REASON")]  # fmt: skip
    for s in rows:
        table.append((str(s.id), s.created_at.isoformat(sep=" ", timespec="seconds"),
                      s.direction, s.channel, _cut(s.partner, 12), _cut(_sets(s), 14), s.state,
                      _cut(s.file_name, 32), _cut(_keys(s), 36),
                      _cut(_reason(s.channel, s.reason), 48)))  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())  # fmt: skip
    last = args.offset + len(rows)
    more = f"; --offset {last} for more" if last < total else ""
    print(f"-- {args.offset + 1}-{last} of {total}{more}")
    return 0


# -- tx show ---------------------------------------------------------------------------------


#: The 997/TA1 element that carries a finding's code, by the finding's level.
_CODE_ELEMENT = {"element": "AK403", "segment": "AK304", "transaction": "AK502",
                 "group": "AK905", "interchange": "TA105", "document": "TA105"}  # fmt: skip


def _finding_text(finding: dict[str, Any]) -> str:
    """``DTM[6] DTM02: invalid date value '20261341' [AK403=8]``."""
    where = finding.get("segment") or finding.get("level", "")
    if finding.get("position"):
        where += f"[{finding['position']}]"
    if finding.get("element_name"):
        where += f" {finding['element_name']}"
    value = f" value {printable(str(finding['bad_value']))!r}" if finding.get("bad_value") else ""
    code = ""
    if finding.get("code"):
        code = f" [{_CODE_ELEMENT.get(finding.get('level', ''), 'code')}={finding['code']}]"
    severity = "" if finding.get("severity", "error") == "error" else " (warning)"
    return f"{where}: {printable(str(finding.get('message', '')))}{value}{code}{severity}"


def _reason(channel: str, reason: str | None) -> str | None:
    """A rejected export's reason is its problems as JSON: ``path: message; ...``."""
    if channel != "erp" or not reason or not reason.startswith("["):
        return reason
    try:
        problems = json.loads(reason)
        return "; ".join(f"{p['path']}: {p['message']}" for p in problems)
    except (ValueError, TypeError, KeyError):
        return reason


def _print_show(view: dict[str, Any], out: TextIO) -> None:
    e = view["exchange"]
    print(f"exchange {e['id']}: {e['direction']} {e['channel']} {e['kind']}  partner "
          f"{e['partner']}  state {e['state']}", file=out)  # fmt: skip
    print(f"  file       {printable(e['file_name'])}  ({e['size']} bytes"
          f"{', purged' if e['purged'] else ''})", file=out)  # fmt: skip
    print(f"  sha256     {e['sha256']}", file=out)
    print(f"  transport  {e['transport']}  reference {printable(e['reference'] or '-')}",
          file=out)  # fmt: skip
    print(f"  created    {e['created_at']}  updated {e['updated_at']}  attempts "
          f"{e['attempts']}", file=out)  # fmt: skip
    if e["lease_owner"]:
        print(f"  lease      {e['lease_owner']} until {e['lease_expires_at']}", file=out)
    if e["business_key"]:
        print(f"  key        {printable(e['business_key'])}", file=out)
    if e["reason"]:
        print(f"  reason     {printable(_reason(e['channel'], e['reason']) or '')}", file=out)
    linked = view["linked"]
    if linked["parent"] or linked["children"] or linked["acknowledges"]:
        print("\nlinked", file=out)
        parent = linked["parent"]
        if parent:
            print(f"  from       exchange {parent['id']} ({parent['relation']}): "
                  f"{parent['direction']} {parent['channel']} {parent['state']} "
                  f"{printable(parent['file_name'])}", file=out)  # fmt: skip
        for child in linked["children"]:
            print(f"  {child['relation']:<10} exchange {child['id']}: {child['direction']} "
                  f"{child['channel']} {child['state']} {printable(child['file_name'])}",
                  file=out)  # fmt: skip
        for group in linked["acknowledges"]:
            print(f"  997 for    exchange {group['exchange_id']} GS01 {group['functional_id']}"
                  f" GS06 {group['control_number']}: {group['ack_status']}", file=out)  # fmt: skip
    if view["envelopes"]:
        print("\nenvelopes", file=out)
    for i in view["envelopes"]:
        superseded = f"  superseded by exchange {i['superseded_by']}" if i["superseded_by"] else ""
        print(f"  ISA13 {i['isa13']}  {i['sender']} -> {i['receiver']}  {i['version']} "
              f"{i['usage']}  {i['status']}{superseded}", file=out)  # fmt: skip
        for g in i["groups"]:
            ack = ""
            if g["ack_status"]:
                by = f" by exchange {g['ack_exchange']}" if g["ack_exchange"] else ""
                at = f" at {g['acked_at']}" if g["acked_at"] else ""
                due = f", due {g['ack_due_at']}" if g["ack_status"] in ("pending", "overdue") \
                    else ""  # fmt: skip
                ack = f"  997: {g['ack_status']}{by}{at}{due}"
            print(f"    GS {g['gs01']} {g['gs06']}  {g['version']}  {g['status']}{ack}",
                  file=out)  # fmt: skip
            for t in g["transactions"]:
                key = f"  key {printable(t['business_key'])}" if t["business_key"] else ""
                ack = f"  997: {t['ack_status']}" if t["ack_status"] else ""
                count = f"  ({len(t['findings'])} findings)" if t["findings"] else ""
                print(f"      ST {t['st01']} {t['st02']}  {t['status']}{key}{ack}{count}",
                      file=out)  # fmt: skip
    print("\ntimeline", file=out)
    for event in view["timeline"]:
        detail = json.dumps(event["detail"], ensure_ascii=True) if event["detail"] else ""
        print(f"  {event['at']}  {event['event']}  {printable(detail)}".rstrip(), file=out)
    _print_content(view, out)
    for d in view["documents"]:
        print(f"\ndocument {d['id']}: {d['type']} {printable(d['business_key'])} "
              f"({d['partner']}) {d['state']}"
              f"{'  delivered ' + d['delivered_at'] if d['delivered_at'] else ''}"
              f"{'  as ' + printable(d['delivery_name']) if d['delivery_name'] else ''}",
              file=out)  # fmt: skip
        _print_indented(json.dumps(d["body"], indent=2, ensure_ascii=True), out)
    for m in view["as2"]:
        print(f"\nAS2 {m['direction']} message {m['id']}: {m['message_id']}", file=out)
        print(f"  status {m['status']}  MDN {m['mdn_mode']}  disposition "
              f"{m['disposition'] or '-'}  MIC {m['mic'] or '-'}  attempts {m['attempts']}",
              file=out)  # fmt: skip
        if m["reason"]:
            print(f"  reason {printable(m['reason'])}", file=out)
        if m["mdn"]:
            print("  MDN:", file=out)
            _print_indented(m["mdn"].replace("\\r\\n", "\n").replace("\\n", "\n"), out, 4)


def _print_indented(text: str, out: TextIO, indent: int = 2) -> None:
    for line in text.splitlines():
        print(" " * indent + line, file=out)


def _print_content(view: dict[str, Any], out: TextIO) -> None:
    content = view["content"]
    if content == "purged":
        print("\nbytes: purged by the retention job", file=out)
    elif content == "x12":
        lines = view["x12"]
        print(f"\nX12 ({len(lines)} segments)", file=out)
        width = len(str(lines[-1]["offset"])) if lines else 1
        for line in lines:
            head = f"  {line['n']:>4} @{line['offset']:<{width}}  "
            marks = [_finding_text(f) for f in line["findings"]]
            print(f"{head}{line['segment']}{'   <-- ' + marks[0] if marks else ''}", file=out)
            for mark in marks[1:]:
                print(f"{' ' * len(head)}{' ' * len(line['segment'])}   <-- {mark}", file=out)
        if view["x12_error"]:
            error = view["x12_error"]
            print(f"  reading stopped at byte {error['offset']}: {error['message']}", file=out)
            print(f"  rest: {error['rest']}", file=out)
    elif content == "json":
        print("\nJSON", file=out)
        _print_indented(json.dumps(view["json"], indent=2, ensure_ascii=True), out)
    elif content == "text":
        print("\nbytes (not X12, not JSON; escaped)", file=out)
        _print_indented(view["text"].replace("\\n", "\n"), out)
    else:
        print("\nbytes: none", file=out)
    if view["unlocated_findings"]:
        print("\nfindings not tied to a segment", file=out)
        for finding in view["unlocated_findings"]:
            if "path" in finding:  # an export's problem, by JSON path
                print(f"  {finding['path']}: {printable(str(finding.get('message')))}",
                      file=out)  # fmt: skip
            else:
                print(f"  {_finding_text(finding)}", file=out)


def run_show(args: argparse.Namespace) -> int:
    """Print one exchange; exit 1 when there is no such exchange."""
    _config, store = open_store(args)
    try:
        view = exchange_view(store, args.exchange_id)
    finally:
        store.dispose()
    if view is None:
        print(f"acorn: no exchange {args.exchange_id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        _print_show(view, sys.stdout)
    return 0


# -- actions ---------------------------------------------------------------------------------


class _Progress:
    """``\\r[#####     ] 12/40`` on a terminal; one plain line per item otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.done = total, stream, 0
        self.tty = stream.isatty()

    def step(self, outcome: Outcome) -> None:
        self.done += 1
        if self.tty:
            filled = round(20 * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{' ' * (20 - filled)}] {self.done}/{self.total}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {_outcome_line(outcome)}\n")
        self.stream.flush()


def _outcome_line(outcome: Outcome) -> str:
    verb = "refused" if not outcome.done else outcome.action
    return f"exchange {outcome.exchange_id}: {verb}: {outcome.detail}"


def _pass_after(pipeline: Pipeline, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = run_once(pipeline).as_dict()
    if not args.json:
        print("pass: " + " ".join(f"{name}={value}" for name, value in figures.items()))
    for partner, reason in pipeline.unreachable.items():
        print(f"acorn: partner {partner} unreachable: {reason}", file=sys.stderr)
    if pipeline.unreachable:
        figures["unreachable"] = dict(pipeline.unreachable)
    return figures


def _finish(
    pipeline: Pipeline, args: argparse.Namespace, outcomes: Sequence[Outcome], key: str
) -> int:
    """Print the outcomes (and run ``--now``'s pass); exit 1 when any was refused, 3 when
    the pass could not reach a partner."""
    refused = [o for o in outcomes if not o.done]
    figures = _pass_after(pipeline, args) if args.now else None
    if args.json:
        document: dict[str, Any] = {key: [o.as_dict() for o in outcomes if o.done],
                                    "refused": [o.as_dict() for o in refused]}  # fmt: skip
        if figures is not None:
            document["pass"] = figures
        print(json.dumps(document, indent=2))
    if refused:
        return 1
    return 3 if pipeline.unreachable else 0


def run_resend(args: argparse.Namespace) -> int:
    """Resend each exchange given."""
    pipeline = open_pipeline(args)
    try:
        outcomes = []
        for exchange_id in args.exchange_ids:
            outcome = resend(pipeline, exchange_id)
            outcomes.append(outcome)
            if not args.json:
                print(_outcome_line(outcome), file=sys.stdout if outcome.done else sys.stderr)
        return _finish(pipeline, args, outcomes, "resent")
    finally:
        pipeline.store.dispose()


def run_reprocess(args: argparse.Namespace) -> int:
    """Reprocess the exchanges given, or those the filters select."""
    if args.filter and args.exchange_ids:
        args.parser.error("give exchange IDs or --filter, not both")
    if not args.filter and not args.exchange_ids:
        args.parser.error("give exchange IDs, or --filter with filters")
    if not args.filter and _filtered(args):
        args.parser.error("filters select exchanges only with --filter")
    pipeline = open_pipeline(args)
    try:
        ids = (reprocess_candidates(pipeline.store, _filter(args), force=args.force)
               if args.filter else list(args.exchange_ids))  # fmt: skip
        progress = _Progress(len(ids), sys.stderr) if len(ids) > 1 else None
        outcomes = []
        for exchange_id in ids:
            outcome = reprocess(pipeline, exchange_id, force=args.force)
            outcomes.append(outcome)
            if progress is not None:
                progress.step(outcome)
            elif not args.json:
                print(_outcome_line(outcome), file=sys.stdout if outcome.done else sys.stderr)
        if not args.json:
            done = sum(1 for o in outcomes if o.done)
            print(f"reprocessed {done}, refused {len(outcomes) - done} (of {len(ids)})"
                  + ("; the next `acorn process` processes them" if done and not args.now
                     else ""))  # fmt: skip
            if progress is not None:
                for outcome in outcomes:
                    if not outcome.done:
                        print(f"  {_outcome_line(outcome)}")
        return _finish(pipeline, args, outcomes, "reprocessed")
    finally:
        pipeline.store.dispose()
