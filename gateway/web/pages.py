"""The operator's dashboard: server-rendered pages (Jinja2, no front-end build step) over
the data ``acorn tx`` and ``acorn po`` show, and the two actions an admin may take.

Pages (every one needs an operator, :mod:`gateway.web.auth`; times are UTC):

* ``GET /``: to ``/exchanges``.
* ``GET /exchanges``: the transaction log, newest first; filters as query parameters
  (``partner``, ``set``, ``state`` (repeatable), ``direction``, ``channel``, ``since`` and
  ``until`` (dates, both days included, or ISO datetimes), ``po``, ``invoice``,
  ``shipment``, ``q``: a PO, invoice or shipment number or a part of a file name) and
  pages (``page``, ``per``).
* ``GET /exchanges/{id}``: one exchange: its facts, linked exchanges, envelopes with their
  997 status, timeline, raw X12 one segment per line with each finding beside the segment
  it names, the JSON beside it (the documents read or rendered, the ERP export it was
  rendered from), AS2 messages with their MDN; Resend and Reprocess for admins when the
  action applies.
* ``POST /exchanges/{id}/resend``, ``POST /exchanges/{id}/reprocess``: admin only (403
  otherwise), the form's ``csrf`` field checked (403 when wrong); then 303 back to the
  detail page with ``?done=...`` or ``?refused=...``. Who asked is kept in the exchange's
  timeline (event ``operator_action``).
* ``GET /po``: the PO board: POs waiting for an 855, nearest deadline first, with the time
  left or how late; then every PO, newest first, with its 855, 856 and 810 status.
  ``GET /po/{po}``: one PO's chain (``acorn po status``).
* ``GET /alerts``: open alerts, newest first; then the latest cleared ones.
* ``GET /health``: the readiness checks, each partner's transport, the queue by state and
  the AS2 certificates with their days left.

:func:`add_pages` adds them to the FastAPI application (once).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse

from gateway.config import Partner
from gateway.log import get_logger
from gateway.pipeline import Pipeline
from gateway.pipeline.operator import (
    REPROCESSABLE,
    Outcome,
    exchange_view,
    po_status,
    printable,
    reprocess,
    resend,
    span,
)
from gateway.store.operator import ExchangeFilter, ExchangeSummary
from gateway.transports.as2.station import certificate_report
from gateway.web.auth import csrf_ok
from gateway.web.templating import page

#: Every state an exchange may be in (``acorn tx list --state``).
STATES = ("received", "delivering", "delivered", "processed", "rejected", "duplicate",
          "quarantined", "superseded", "rendered", "queued", "staged", "awaiting_mdn", "sent",
          "failed")  # fmt: skip
#: The transaction sets offered by the log's filter.
SETS = ("850", "855", "856", "810", "846", "997")
PAGE_SIZES = (25, 50, 100, 200)
#: POs per page in the board's list of every PO (each costs a few queries).
BOARD_PAGE = 25
#: Segments of one interchange shown (a page of a 50 MB file would be unreadable anyway).
MAX_SEGMENTS = 5000
#: Cleared alerts shown under the open ones.
CLEARED_ALERTS = 50
_TONES = {
    "good": ("delivered", "processed", "rendered", "sent", "accepted", "acknowledged",
             "ok", "open"),
    "bad": ("rejected", "quarantined", "failed", "late", "overdue", "expired"),
    "warn": ("duplicate", "awaiting_mdn", "due", "pending", "partial", "queued", "staged",
             "received", "delivering", "missing"),
}  # fmt: skip
_TONE_OF = {word: tone for tone, words in _TONES.items() for word in words}
#: The 997/TA1 element carrying a finding's code, by the finding's level (as ``acorn tx show``).
_CODE_ELEMENT = {"element": "AK403", "segment": "AK304", "transaction": "AK502",
                 "group": "AK905", "interchange": "TA105", "document": "TA105"}  # fmt: skip
_TEXT_LIMIT = 100
_log = get_logger("gateway.web")


def add_pages(api: FastAPI, pipeline: Pipeline) -> None:
    """Add the dashboard's pages and actions to ``api`` (a second call does nothing)."""
    if getattr(api.state, "acorn_pages", False):
        return
    api.state.acorn_pages = True
    _add_routes(api, pipeline)


# -- small presentation helpers ------------------------------------------------------------


def tone(word: str | None) -> str:
    """The colour class of a state word: ``good``, ``bad``, ``warn`` or ``plain``."""
    return _TONE_OF.get(word or "", "plain")


def at(value: datetime | str | None) -> str:
    """A stored (naive UTC) time as ``2026-11-24 08:00:00``; ``-`` for none."""
    if value is None or value == "":
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="seconds")


def _pretty(value: Any) -> str:
    """Indented JSON, each line made safe to read (json.dumps already escapes the control
    characters inside strings; this also escapes format characters such as U+202E)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return "\n".join(printable(line) for line in text.split("\n"))


def _compact(value: Any) -> str:
    return printable(json.dumps(value, ensure_ascii=False)) if value else ""


def _reason(channel: str, reason: str | None) -> str | None:
    """A rejected export's reason is its problems as JSON: ``path: message; ...``."""
    if channel == "erp" and reason and reason.startswith("["):
        try:
            return "; ".join(f"{p['path']}: {p['message']}" for p in json.loads(reason))
        except (ValueError, TypeError, KeyError):
            pass
    return printable(reason) if reason else None


def _finding(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding's parts for the page: where, element, message, bad value, 997 code."""
    if "path" in finding and "level" not in finding:  # an export's problem, by JSON path
        return {"where": printable(str(finding["path"])), "element": "",
                "message": printable(str(finding.get("message", ""))), "value": None,
                "code": None, "warning": finding.get("severity") == "warning"}  # fmt: skip
    where = str(finding.get("segment") or finding.get("level", ""))
    if finding.get("position"):
        where += f"[{finding['position']}]"
    code = None
    if finding.get("code"):
        code = f"{_CODE_ELEMENT.get(finding.get('level', ''), 'code')}={finding['code']}"
    value = finding.get("bad_value")
    return {
        "where": printable(where), "element": printable(str(finding.get("element_name") or "")),
        "message": printable(str(finding.get("message", ""))),
        "value": printable(str(value)) if value not in (None, "") else None, "code": code,
        "warning": finding.get("severity", "error") != "error",
    }  # fmt: skip


def _render(request: Request, template: str, status_code: int = 200, **values: Any) -> Any:
    return page(request, template, status_code=status_code, tone=tone, at=at, **values)


def _problem(request: Request, status_code: int, title: str, message: str,
             back: str | None = None) -> Any:  # fmt: skip
    return _render(request, "problem.html", status_code=status_code, title=title,
                   message=message, back=back)  # fmt: skip


# -- the log's query -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogQuery:
    """The log's filters as asked (``form``, for the form and the page links), the store's
    filter made of them, the page, and what could not be read."""

    form: dict[str, Any]
    where: ExchangeFilter
    page: int
    per: int
    errors: tuple[str, ...]

    def link(self, page: int | None = None, **changes: Any) -> str:
        """``/exchanges?...`` with these filters (and ``changes``) on ``page``."""
        values = {**self.form, **changes}
        pairs: list[tuple[str, str]] = []
        for name in ("q", "partner", "set", "direction", "channel", "since", "until", "po",
                     "invoice", "shipment"):  # fmt: skip
            if values.get(name):
                pairs.append((name, str(values[name])))
        pairs += [("state", state) for state in values.get("state", ())]
        if self.per != 50:
            pairs.append(("per", str(self.per)))
        if page and page > 1:
            pairs.append(("page", str(page)))
        return "/exchanges" + (f"?{urlencode(pairs)}" if pairs else "")


def _moment(value: str | None, name: str, *, end: bool, errors: list[str]) -> datetime | None:
    """A date (the day's start; with ``end``, the next day's, so the day is included) or an
    ISO datetime (UTC unless it says otherwise), as the naive UTC the store compares."""
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, datetime.min.time())
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.append(f"{name}: {value!r} is not a date (2026-11-24) or an ISO datetime "
                      f"(2026-11-24T08:00Z)")  # fmt: skip
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def log_query(request: Request, partners: list[str]) -> LogQuery:
    """Read the log's query parameters; what is wrong is reported, not raised."""
    params = request.query_params
    errors: list[str] = []

    def text(name: str) -> str | None:
        value = " ".join(params.get(name, "").split())
        if len(value) > _TEXT_LIMIT:
            errors.append(f"{name}: at most {_TEXT_LIMIT} characters")
            return None
        return value or None

    def choice(name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
        value = text(name)
        if value is not None and value not in allowed:
            errors.append(f"{name}: {value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    set_id = text("set")
    if set_id is not None and not re.fullmatch(r"[0-9]{3}", set_id):
        errors.append(f"set: {set_id!r} is not an X12 set id (three digits: 850)")
        set_id = None
    states = tuple(dict.fromkeys(s.strip() for s in params.getlist("state") if s.strip()))
    unknown = [s for s in states if s not in STATES]
    if unknown:
        errors.append(f"state: unknown {', '.join(repr(s) for s in unknown)}")
        states = tuple(s for s in states if s in STATES)
    form: dict[str, Any] = {
        "q": text("q"), "partner": choice("partner", partners), "set": set_id,
        "direction": choice("direction", ("in", "out")),
        "channel": choice("channel", ("partner", "erp")), "since": text("since"),
        "until": text("until"), "po": text("po"), "invoice": text("invoice"),
        "shipment": text("shipment"), "state": states,
    }  # fmt: skip
    since = _moment(form["since"], "since", end=False, errors=errors)
    until = _moment(form["until"], "until", end=True, errors=errors)
    number, per = _number(params.get("page"), 1), _number(params.get("per"), 50)
    where = ExchangeFilter(
        partner=form["partner"], set_id=set_id, states=states, direction=form["direction"],
        channel=form["channel"], since=since, until=until, po_number=form["po"],
        invoice=form["invoice"], shipment=form["shipment"], text=form["q"],
    )  # fmt: skip
    return LogQuery(form, where, max(1, number), min(max(per, 1), max(PAGE_SIZES)),
                    tuple(errors))  # fmt: skip


def _number(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def pagination(query: LogQuery, total: int) -> dict[str, Any]:
    """Page links: first, last, and two either side of the current page (None: a gap)."""
    pages = max(1, math.ceil(total / query.per))
    current = min(query.page, pages)
    shown = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    links: list[dict[str, Any] | None] = []
    for number in shown:
        if links and links[-1] is not None and number - links[-1]["number"] > 1:
            links.append(None)
        links.append({"number": number, "href": query.link(number), "current": number == current})
    first = (current - 1) * query.per
    return {
        "pages": pages, "current": current, "links": links, "total": total,
        "first": first + 1 if total else 0, "last": min(first + query.per, total),
        "previous": query.link(current - 1) if current > 1 else None,
        "next": query.link(current + 1) if current < pages else None,
    }  # fmt: skip


def _log_row(summary: ExchangeSummary) -> dict[str, Any]:
    keys = ([("PO", k, f"/exchanges?{urlencode({'po': k})}") for k in summary.po_numbers]
            + [("INV", k, f"/exchanges?{urlencode({'invoice': k})}") for k in summary.invoices]
            + [("SH", k, f"/exchanges?{urlencode({'shipment': k})}")
               for k in summary.shipments])  # fmt: skip
    return {
        "id": summary.id, "created_at": at(summary.created_at), "direction": summary.direction,
        "channel": summary.channel, "kind": summary.kind, "partner": summary.partner,
        "sets": ", ".join(f"{s} ({n})" if n > 1 else s for s, n in summary.sets.items()),
        "state": summary.state, "file_name": printable(summary.file_name),
        "keys": [(label, printable(value), href) for label, value, href in keys],
        "reason": _reason(summary.channel, summary.reason), "size": summary.size,
    }  # fmt: skip


# -- one exchange --------------------------------------------------------------------------


def _lines(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The X12 segments to show, findings formatted: the first :data:`MAX_SEGMENTS`, and
    any later one that carries a finding (``acorn tx show`` prints every one)."""
    return [{"n": line["n"], "offset": line["offset"], "segment": line["segment"],
             "marks": [_finding(f) for f in line.get("findings", [])]}
            for index, line in enumerate(view["x12"])
            if index < MAX_SEGMENTS or line.get("findings")]  # fmt: skip


def _panes(pipeline: Pipeline, view: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of the bytes: the exchange's own (X12 lines, JSON or text) and,
    beside them, their counterpart: the ERP documents read from or rendered for it, the ERP
    export an interchange was rendered from, or the X12 an export was rendered into."""
    lines = _lines(view)
    own: dict[str, Any] = {"content": view["content"], "lines": lines,
                           "hidden": len(view["x12"]) - len(lines),
                           "error": view["x12_error"],
                           "json": _pretty(view["json"]) if view["content"] == "json" else None,
                           "text": view["text"]}  # fmt: skip
    beside: list[dict[str, Any]] = []
    if view["content"] == "json":
        for child in view["linked"]["children"]:
            if child["relation"] == "rendered":
                rendered = exchange_view(pipeline.store, child["id"])
                if rendered is not None and rendered["content"] == "x12":
                    beside.append({"title": f"X12 rendered (exchange {child['id']})",
                                   "href": f"/exchanges/{child['id']}",
                                   "lines": _lines(rendered)})  # fmt: skip
    if not beside:
        for d in view["documents"]:
            state = (f"delivered {at(d['delivered_at'])} UTC" if d["delivered_at"]
                     else d["state"])  # fmt: skip
            beside.append({"title": f"{d['type']} {printable(d['business_key'])} ({state})",
                           "json": _pretty(d["body"])})  # fmt: skip
    parent = view["linked"]["parent"]
    if not beside and parent and parent["relation"] == "rendered":
        source = exchange_view(pipeline.store, parent["id"])
        if source is not None and source["content"] == "json":
            beside.append({"title": f"ERP export (exchange {parent['id']})",
                           "href": f"/exchanges/{parent['id']}",
                           "json": _pretty(source["json"])})  # fmt: skip
    return {"own": own, "beside": beside,
            "unlocated": [_finding(f) for f in view["unlocated_findings"]]}  # fmt: skip


def _actions(view: dict[str, Any]) -> dict[str, Any]:
    """Which actions apply to the exchange as it is now (the action checks again)."""
    e = view["exchange"]
    allowed = REPROCESSABLE.get((e["channel"], e["direction"]), ())
    return {
        "resend": (e["channel"], e["direction"]) == ("partner", "out")
        and e["state"] in ("failed", "sent") and not e["purged"],
        "reprocess": e["state"] in allowed and not e["purged"],
        "force": e["state"] == "duplicate",
    }


def _detail(pipeline: Pipeline, view: dict[str, Any]) -> dict[str, Any]:
    e = view["exchange"]
    facts = {**e, "file_name": printable(e["file_name"]),
             "reference": printable(e["reference"]) if e["reference"] else None,
             "business_key": printable(e["business_key"]) if e["business_key"] else None,
             "reason": _reason(e["channel"], e["reason"])}  # fmt: skip
    timeline = [{"at": at(t["at"]), "event": t["event"], "detail": _compact(t["detail"])}
                for t in view["timeline"]]  # fmt: skip
    as2 = [{**m, "mdn": m["mdn"].replace("\\r\\n", "\n").replace("\\n", "\n")
            if m["mdn"] else None} for m in view["as2"]]  # fmt: skip
    return {"e": facts, "linked": view["linked"], "envelopes": view["envelopes"],
            "timeline": timeline, "as2": as2, "panes": _panes(pipeline, view),
            "actions": _actions(view)}  # fmt: skip


# -- the PO board --------------------------------------------------------------------------


def _clock(deadline: datetime, now: datetime) -> dict[str, Any]:
    left = (deadline - now).total_seconds()
    if left < 0:
        return {"late": True, "text": f"late by {span(left)}", "seconds": int(left)}
    return {"late": False, "text": f"{span(left)} left", "seconds": int(left)}


def _due_cell(set_id: str, item: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One of 855/856/810 on the board: a word, its detail and the exchange to open."""
    state = item["state"]
    href = f"/exchanges/{item['exchange']}" if item.get("exchange") else None
    if state == "sent":
        return {"word": "sent", "detail": f"997 {item['ack'] or 'awaited'}", "href": href,
                "tone": tone(item["ack"] if item["ack"] in ("rejected", "overdue") else "sent")}
    if state == "queued":
        return {"word": "rendered", "detail": "not sent yet", "href": href, "tone": "warn"}
    if state in ("due", "late"):
        clock = _clock(datetime.fromisoformat(item["deadline"]), now)
        return {"word": "late" if clock["late"] else "due", "detail": clock["text"],
                "href": None, "tone": "bad" if clock["late"] else "warn"}  # fmt: skip
    return {"word": "none yet" if set_id != "855" else "missing", "detail": "", "href": None,
            "tone": "plain"}  # fmt: skip


# -- health --------------------------------------------------------------------------------


def _where(partner: Partner) -> str:
    """Where a partner's files travel, for people."""
    if partner.transport == "folder" and partner.folder is not None:
        return f"in {partner.folder.incoming}, out {partner.folder.outgoing}"
    if partner.transport == "sftp" and partner.sftp is not None:
        down = partner.sftp.download
        text = f"{down.user}@{down.host}:{down.port} {partner.sftp.inbox} / {partner.sftp.outbox}"
        if partner.sftp.upload is not None:
            up = partner.sftp.upload
            text += f" (upload {up.user}@{up.host}:{up.port})"
        return text
    if partner.as2 is not None:
        return f"AS2 {partner.as2.as2_id} at {partner.as2.url} (MDN {partner.as2.mdn})"
    return "-"


# -- the routes ----------------------------------------------------------------------------


def _add_routes(api: FastAPI, pipeline: Pipeline) -> None:
    # On the application itself (not an included APIRouter), so that api.routes lists
    # every path (tests/web/test_auth.py checks each one needs an operator).
    config = pipeline.config
    partners = [p.name for p in config.partners]

    @api.get("/", include_in_schema=False)
    def home() -> Any:
        """The log is the home page."""
        return RedirectResponse("/exchanges", status_code=303)

    @api.get("/exchanges", include_in_schema=False)
    def exchange_log(request: Request) -> Any:
        """The transaction log, filtered and paginated."""
        names = sorted({*partners, "erp"})
        query = log_query(request, names)
        rows: list[ExchangeSummary] = []
        total = 0
        with pipeline.store.transaction() as tx:
            if not query.errors:
                total = tx.count_exchanges(query.where)
                pages = max(1, math.ceil(total / query.per))
                offset = (min(query.page, pages) - 1) * query.per
                rows = tx.list_exchanges(query.where, limit=query.per, offset=offset)
            waiting = tx.count_purchase_orders(waiting=True)
            alerts = len(tx.alerts(open_only=True))
        return _render(
            request, "exchanges.html", status_code=400 if query.errors else 200, query=query,
            form=query.form, rows=[_log_row(s) for s in rows], paging=pagination(query, total),
            partners=names, sets=SETS, states=STATES, page_sizes=PAGE_SIZES,
            waiting=waiting, open_alerts=alerts,
            filtered=any(v for v in query.form.values()),
        )  # fmt: skip

    @api.get("/exchanges/{exchange_id}", include_in_schema=False)
    def exchange_page(request: Request, exchange_id: str) -> Any:
        """One exchange with everything linked to it."""
        view = exchange_view(pipeline.store, int(exchange_id)) if exchange_id.isdigit() else None
        if view is None:
            return _problem(request, 404, "Not found", f"There is no exchange {exchange_id}.")
        done, refused = request.query_params.get("done"), request.query_params.get("refused")
        return _render(request, "exchange.html", **_detail(pipeline, view),
                       done=done, refused=refused)  # fmt: skip

    def act(request: Request, exchange_id: int, csrf: str | None, action: str,
            work: Any) -> Any:  # fmt: skip
        operator = request.state.operator
        back = f"/exchanges/{exchange_id}"
        if not operator.admin:
            return _problem(request, 403, "Refused", f"{operator.name} is a read-only "
                            f"operator: only an admin may {action}.", back)  # fmt: skip
        if not csrf_ok(request.session, operator, csrf):
            return _problem(request, 403, "Refused", "The form's CSRF token is missing or "
                            "wrong (an old page, or a request from another site). Open "
                            "the exchange again and retry.", back)  # fmt: skip
        outcome: Outcome = work()
        with pipeline.store.transaction() as tx:
            if tx.exchange_detail(exchange_id) is not None:
                tx.event(exchange_id, "operator_action", action=action, operator=operator.name,
                         via="web", outcome=outcome.action,
                         new_exchange=outcome.new_exchange_id)  # fmt: skip
        _log.info("operator_action", exchange_id=exchange_id, action=action,
                  operator=operator.name, outcome=outcome.action,
                  new_exchange=outcome.new_exchange_id)  # fmt: skip
        key = "done" if outcome.done else "refused"
        target = f"/exchanges/{exchange_id}?{urlencode({key: outcome.detail})}"
        return RedirectResponse(target, status_code=303)

    @api.post("/exchanges/{exchange_id}/resend", include_in_schema=False)
    def resend_action(request: Request, exchange_id: int,
                      csrf: Annotated[str | None, Form()] = None) -> Any:  # fmt: skip
        """Send an outbound exchange again (admin)."""
        return act(request, exchange_id, csrf, "resend",
                   lambda: resend(pipeline, exchange_id))  # fmt: skip

    @api.post("/exchanges/{exchange_id}/reprocess", include_in_schema=False)
    def reprocess_action(request: Request, exchange_id: int,
                         csrf: Annotated[str | None, Form()] = None,
                         force: Annotated[bool, Form()] = False) -> Any:  # fmt: skip
        """Process an inbound exchange again (admin)."""
        return act(request, exchange_id, csrf, "reprocess",
                   lambda: reprocess(pipeline, exchange_id, force=force))  # fmt: skip

    @api.get("/po", include_in_schema=False)
    def po_board(request: Request) -> Any:
        """POs waiting for an 855, then every PO with its 855/856/810 status."""
        wanted = request.query_params.get("po", "").strip()
        if wanted:
            return RedirectResponse(f"/po/{quote(wanted, safe='')}", status_code=303)
        now = pipeline.now()
        window = timedelta(hours=config.gateway.po_ack_due_hours)
        number = max(1, _number(request.query_params.get("page"), 1))
        with pipeline.store.transaction() as tx:
            open_orders = tx.purchase_orders(waiting=True)
            total = tx.count_purchase_orders()
            pages = max(1, math.ceil(total / BOARD_PAGE))
            number = min(number, pages)
            recent = tx.purchase_orders(limit=BOARD_PAGE, offset=(number - 1) * BOARD_PAGE)
        waiting = [{"po": printable(o.po_number or "-"), "po_number": o.po_number or "",
                    "partner": o.partner, "received": at(o.created_at),
                    "deadline": at(o.created_at + window),
                    "clock": _clock(o.created_at + window, now), "po_state": o.po_state,
                    "state": o.state, "exchange": o.exchange_id}
                   for o in open_orders]  # fmt: skip
        board = []
        for order in recent:
            status = po_status(pipeline.store, config, order.po_number or "", now, order.partner)
            due = status["due"] if status else {}
            board.append({"po": printable(order.po_number or "-"),
                          "po_number": order.po_number or "", "partner": order.partner,
                          "received": at(order.created_at), "state": order.state,
                          "exchange": order.exchange_id,
                          "cells": [_due_cell(s, due[s], now) for s in ("855", "856", "810")
                                    if s in due]})  # fmt: skip
        return _render(request, "po_board.html", waiting=waiting, board=board, now=at(now),
                       page_number=number, pages=pages, total=total,
                       hours=config.gateway.po_ack_due_hours)  # fmt: skip

    @api.get("/po/{po_number}", include_in_schema=False)
    def po_page(request: Request, po_number: str, partner: str | None = None) -> Any:
        """One PO's chain and what is due."""
        now = pipeline.now()
        status = po_status(pipeline.store, config, po_number, now, partner or None)
        if status is None:
            return _problem(request, 404, "Not found",
                            f"No document has the PO number {printable(po_number)!r}.")  # fmt: skip
        due = [{"set": s, **_due_cell(s, item, now), "deadline": at(item.get("deadline"))}
               for s, item in status["due"].items()]  # fmt: skip
        return _render(request, "po.html", po=printable(po_number), po_number=po_number,
                       status=status, due=due, now=at(now),
                       log=f"/exchanges?{urlencode({'po': po_number})}")  # fmt: skip

    @api.get("/alerts", include_in_schema=False)
    def alerts_page(request: Request) -> Any:
        """Open alerts first, then the latest cleared ones."""
        with pipeline.store.transaction() as tx:
            every = tx.alerts()
        now = pipeline.now()
        opened = sorted((a for a in every if a.cleared_at is None),
                        key=lambda a: a.raised_at, reverse=True)  # fmt: skip
        cleared = sorted((a for a in every if a.cleared_at is not None),
                         key=lambda a: a.cleared_at or a.raised_at, reverse=True)  # fmt: skip

        def row(a: Any) -> dict[str, Any]:
            return {"kind": a.kind, "partner": a.partner, "subject": printable(a.subject),
                    "detail": printable(a.detail) if a.detail else None,
                    "exchange": a.exchange_id, "raised": at(a.raised_at),
                    "cleared": at(a.cleared_at) if a.cleared_at else None,
                    "age": span((now - a.raised_at).total_seconds()),
                    "tone": _alert_tone(a.kind)}  # fmt: skip

        return _render(request, "alerts.html", opened=[row(a) for a in opened],
                       cleared=[row(a) for a in cleared[:CLEARED_ALERTS]],
                       more=max(0, len(cleared) - CLEARED_ALERTS))  # fmt: skip

    @api.get("/health", include_in_schema=False)
    def health_page(request: Request) -> Any:
        """Readiness, transports, queue, certificates."""
        # Imported here: gateway.web.api imports this module to add the pages.
        from gateway.web.api import readiness

        checks = readiness(pipeline)
        now = pipeline.now()
        with pipeline.store.transaction() as tx:
            queue = tx.count_states()
            opened = tx.alerts(open_only=True)
        down = {a.partner: a for a in opened if a.kind == "transport_down"}
        transports = []
        for partner in config.partners:
            since = pipeline.transport_down_since.get(partner.name)
            transports.append({
                "name": partner.name, "transport": partner.transport, "where": _where(partner),
                "ids": f"{partner.our_id} ↔ {partner.id}", "usage": partner.usage,
                "problem": checks.get(f"transport:{partner.name}"),
                "unreachable": pipeline.unreachable.get(partner.name),
                "down_since": at(since) if since else None,
                "alert": printable(down[partner.name].subject) if partner.name in down else None,
                "alerts": sum(1 for a in opened if a.partner == partner.name),
            })  # fmt: skip
        certificates = [{
            "owner": c.owner, "subject": printable(c.subject), "fingerprint": c.fingerprint,
            "path": c.path, "not_after": at(c.not_after) if c.fingerprint != "-" else "-",
            "days_left": c.days_left, "problem": c.problem,
            "tone": "bad" if c.problem or c.days_left < 7 else "warn" if c.days_left < 30
            else "good",
        } for c in certificate_report(config, now)]  # fmt: skip
        return _render(
            request, "health.html", checks=[(name, problem) for name, problem in checks.items()
                                            if not name.startswith("transport:")],
            ready=all(problem is None for problem in checks.values()), transports=transports,
            queue=sorted(queue.items(), key=lambda item: STATES.index(item[0])
                         if item[0] in STATES else len(STATES)),
            certificates=certificates, now=at(now),
            station=config.as2.as2_id if config.as2 is not None else None,
        )  # fmt: skip


def _alert_tone(kind: str) -> str:
    if kind.endswith(("_due", "_expiring", "_overdue")) or kind == "certificate_expiring":
        return "warn"
    return "bad"
