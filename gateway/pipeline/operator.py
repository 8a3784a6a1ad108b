"""The operator's actions on exchanges (resend, reprocess) and the views behind ``acorn tx
show`` and ``acorn po status``.

**Resend** (:func:`resend`) sends an outbound partner exchange again. A ``failed`` one
goes back to ``queued`` (attempts reset, lease cleared, one conditional UPDATE); over AS2
the next send builds a new message with a new Message-ID, and the failed message stays as
evidence. A ``sent`` one is copied: a new outbound exchange with the same bytes, named
``<stem>.resend-N.<ext>``, ``parent_id`` the original, ``queued``. Both are sent by the
next pass; anything else is refused with the reason.

**Reprocess** (:func:`reprocess`) processes an inbound exchange again, as if just
received: inbound partner X12 in ``rejected`` or ``quarantined`` (``duplicate`` only when
forced), an ERP export in ``rejected``. Design, so that nothing is delivered or sent twice:

* The earlier exchange is never reset in place. It moves to ``superseded`` (keeping its
  reason, envelopes, findings, 997 and timeline as evidence) with a *conditional* UPDATE
  from the state it was read in, and a new exchange is made from its stored bytes (same
  sha256, named ``<stem>.reprocess-N.<ext>``, ``parent_id`` the earlier one) in state
  ``received``, in the same transaction. Two operators reprocessing one exchange at once
  therefore make one new exchange: the second UPDATE finds the row moved and the second
  transaction rolls back with nothing done. The pipeline picks the new exchange up like
  any other (``acorn process``, the daemon, or ``--now``).
* ISA13 uniqueness: the earlier attempt's interchange rows get ``superseded_by`` = the new
  exchange. The UNIQUE index on (direction, sender, receiver, ISA13) covers only rows not
  superseded (migration 0003), so the new exchange records the interchange afresh, while
  any *other* copy of it (a live row held by another exchange) still makes it a
  ``duplicate`` — the database, not a check, keeps one live holder per interchange.
  Rejected rows are kept rather than moved or renumbered, because they are the evidence
  of what was wrong (``acorn tx show`` marks their findings on the raw segments).
* A purchase order is delivered at most once: a reprocess is refused when a PO number the
  bytes carry (850 BEG03) already has a purchase order pending, staged or delivered for
  that partner. An ERP export is refused when a document of its type and business key was
  rendered already (an 855 for that PO, that invoice number...), since its interchange
  would be sent twice.
* No second 997: the new exchange queues no acknowledgment when an earlier attempt did
  (``gateway.pipeline.inbound``); the partner has its answer to that interchange.
* A ``duplicate`` is refused unless forced. Forced, the interchange's live holder gives it
  up only when the holder delivered nothing (``rejected`` or ``quarantined``: the first
  copy was damaged, the repeat is the good one); otherwise it is refused.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.config import Config
from gateway.errors import ConfigError, LeaseLost, UnsafeNameError, X12SyntaxError
from gateway.pipeline.context import Pipeline
from gateway.pipeline.outbound import BUSINESS_KEYS
from gateway.store import Repository, Store
from gateway.store.operator import (
    SET_OF_DOCUMENT,
    DocumentView,
    ExchangeDetail,
    ExchangeFilter,
    ExchangeSummary,
    InterchangeNode,
)
from gateway.transports.files import MAX_NAME_CHARS, safe_name
from gateway.x12 import Lexer, X12Document, parse

#: What may be reprocessed: (channel, direction) -> states.
REPROCESSABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("partner", "in"): ("rejected", "quarantined", "duplicate"),
    ("erp", "in"): ("rejected",),
}
#: Purchase-order states that mean "on its way to the ERP or there already".
_PO_GIVEN = ["pending", "staged", "delivered"]
_WHY_NOT: dict[str, str] = {
    "received": "it is waiting to be processed",
    "delivering": "its purchase orders are being delivered to the ERP",
    "delivered": "its purchase orders were delivered to the ERP already",
    "processed": "it was processed already",
    "rendered": "it was rendered already (to send its interchange again: acorn tx resend)",
    "queued": "it is waiting to be sent",
    "staged": "it is being sent",
    "awaiting_mdn": "it was posted and waits for its MDN",
}
_DERIVED = re.compile(r"\.(?:resend|reprocess)-\d+(?=\.[^.]*$|$)")


@dataclass(frozen=True)
class Outcome:
    """What an action did to one exchange: ``action`` is ``requeued``, ``copied``,
    ``reprocessed`` or ``refused`` (then ``detail`` says why)."""

    exchange_id: int
    action: str
    detail: str
    new_exchange_id: int | None = None
    state: str | None = None

    @property
    def done(self) -> bool:
        """True unless refused."""
        return self.action != "refused"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"exchange": self.exchange_id, "action": self.action, "detail": self.detail,
                "new_exchange": self.new_exchange_id, "state": self.state}  # fmt: skip


class _Refused(Exception):
    """An action refused; raised inside the transaction so that it rolls back."""


# -- resend ----------------------------------------------------------------------------------


def resend(pipeline: Pipeline, exchange_id: int) -> Outcome:
    """Send an outbound partner exchange again (see the module docstring)."""
    try:
        with pipeline.store.transaction() as tx:
            return _resend(pipeline, tx, exchange_id)
    except _Refused as refused:
        return Outcome(exchange_id, "refused", str(refused))


def _resend(pipeline: Pipeline, tx: Repository, exchange_id: int) -> Outcome:
    record = tx.exchange_detail(exchange_id)
    if record is None:
        raise _Refused("no such exchange")
    if (record.channel, record.direction) != ("partner", "out"):
        raise _Refused(f"only outbound partner exchanges are sent; this one is "
                       f"{_what(record)}")  # fmt: skip
    _configured(pipeline.config, record.partner)
    now = pipeline.now()
    if record.state == "failed":
        _payload(tx, record)  # refused when the retention job purged the bytes
        if not tx.requeue_failed(exchange_id, now):
            raise _Refused("it changed meanwhile (someone else acted on it)")
        tx.set_envelope_status(exchange_id, "queued")
        tx.event(exchange_id, "resend_requested", previous_state="failed",
                 previous_reason=(record.reason or "")[:500])  # fmt: skip
        return Outcome(exchange_id, "requeued", "failed -> queued: the next pass sends it",
                       state="queued")  # fmt: skip
    if record.state != "sent":
        why = _WHY_NOT.get(record.state, "only failed or sent exchanges are resent")
        raise _Refused(f"state {record.state}: {why}")
    payload = _payload(tx, record)
    name = _derived_name(tx, record, "resend")
    new_id = tx.add_exchange(
        channel="partner", direction="out", kind=record.kind, partner=record.partner,
        transport=record.transport, file_name=name, payload=payload, sha256=record.sha256,
        state="queued", business_key=record.business_key, parent_id=exchange_id,
    )  # fmt: skip
    if new_id is None:
        raise _Refused(f"the name {name} is taken")
    tx.event(exchange_id, "resent_as", exchange=new_id, file=name)
    tx.event(new_id, "resend_of", exchange=exchange_id, file=record.file_name)
    return Outcome(exchange_id, "copied",
                   f"a copy {name} is queued as exchange {new_id}: the next pass sends it",
                   new_exchange_id=new_id, state="queued")  # fmt: skip


# -- reprocess -------------------------------------------------------------------------------


def reprocess(pipeline: Pipeline, exchange_id: int, *, force: bool = False) -> Outcome:
    """Process an inbound exchange again as a new exchange (see the module docstring);
    ``force`` admits a ``duplicate``."""
    try:
        with pipeline.store.transaction() as tx:
            return _reprocess(pipeline, tx, exchange_id, force)
    except _Refused as refused:
        return Outcome(exchange_id, "refused", str(refused))
    except LeaseLost:
        why = "it changed while being reprocessed (reprocessed by someone else?)"
        return Outcome(exchange_id, "refused", why)


def reprocess_candidates(store: Store, where: ExchangeFilter, *, force: bool = False) -> list[int]:
    """The exchanges ``acorn tx reprocess --filter`` works on, oldest first. Without a state
    in ``where``, only those that may be reprocessed (a duplicate only when ``force``)."""
    explicit = bool(where.states)
    if not explicit:
        states = {state for allowed in REPROCESSABLE.values() for state in allowed}
        where = replace(where, states=tuple(sorted(states)))
    with store.transaction() as tx:
        ids = tx.exchange_ids(where)
        if explicit:
            return ids
        chosen = []
        for exchange_id in ids:
            record = tx.exchange_detail(exchange_id)
            assert record is not None
            allowed = REPROCESSABLE.get((record.channel, record.direction), ())
            if record.state in allowed and (record.state != "duplicate" or force):
                chosen.append(exchange_id)
        return chosen


def _reprocess(pipeline: Pipeline, tx: Repository, exchange_id: int, force: bool) -> Outcome:
    record = tx.exchange_detail(exchange_id)
    if record is None:
        raise _Refused("no such exchange")
    allowed = REPROCESSABLE.get((record.channel, record.direction))
    if allowed is None:
        raise _Refused(f"only inbound X12 from a partner and ERP exports are reprocessed; "
                       f"this one is {_what(record)}")  # fmt: skip
    if record.state == "superseded":
        later = [e.id for e in tx.exchanges(parent_id=exchange_id) if e.direction == "in"]
        raise _Refused(f"reprocessed already, as exchange {later[-1] if later else '?'}")
    if record.state == "duplicate" and not force:
        raise _Refused("a duplicate interchange: its first copy was processed already "
                       "(--force processes this copy; a purchase order is still never "
                       "delivered twice)")  # fmt: skip
    if record.state not in allowed:
        why = _WHY_NOT.get(record.state, f"only {', '.join(allowed)} exchanges are reprocessed")
        raise _Refused(f"state {record.state}: {why}")
    payload = _payload(tx, record)
    holders: list[tuple[int, tuple[str, str, str]]] = []
    if record.channel == "partner":
        _configured(pipeline.config, record.partner)
        holders = _check_inbound(tx, record, payload, force)
    else:
        _check_export(tx, payload)
    # The fence: from the state read above, or nothing (LeaseLost rolls everything back).
    tx.set_state(exchange_id, "superseded", expected=[record.state])
    name = _derived_name(tx, record, "reprocess")
    new_id = tx.add_exchange(
        channel=record.channel, direction=record.direction, kind=record.kind,
        partner=record.partner, transport=record.transport, reference=record.reference,
        file_name=name, payload=payload, sha256=record.sha256, state="received",
        business_key=record.business_key, parent_id=exchange_id,
    )  # fmt: skip
    if new_id is None:
        raise _Refused(f"the name {name} is taken")
    tx.supersede_interchanges(exchange_id, new_id)
    for holder, key in holders:
        if tx.supersede_interchanges(holder, new_id, only=key):
            tx.event(holder, "interchange_superseded", isa13=key[2], by_exchange=new_id)
    tx.event(exchange_id, "reprocessed", new_exchange=new_id, forced=force)
    tx.event(new_id, "reprocess_of", exchange=exchange_id, previous_state=record.state,
             previous_reason=(record.reason or "")[:500])  # fmt: skip
    return Outcome(exchange_id, "reprocessed",
                   f"superseded by exchange {new_id} ({name}), received: the next pass "
                   f"processes it", new_exchange_id=new_id, state="received")  # fmt: skip


def _check_inbound(
    tx: Repository, record: ExchangeDetail, payload: bytes, force: bool
) -> list[tuple[int, tuple[str, str, str]]]:
    """Refuse when a PO of the bytes reached the ERP (or is on its way); returns the
    interchanges other exchanges hold that a forced duplicate takes over."""
    tree = _x12_tree(payload)
    if tree is None:
        return []
    for po_number in _po_numbers(tree):
        given = tx.documents(type="purchase_order", partner=record.partner,
                             po_number=po_number, states=_PO_GIVEN)  # fmt: skip
        if given:
            raise _Refused(f"PO {po_number} was delivered to the ERP already (exchange "
                           f"{given[0].exchange_id}, {given[0].state}): it is never "
                           f"delivered twice")  # fmt: skip
    holders = []
    for interchange in tree.interchanges:
        key = (":".join(interchange.sender), ":".join(interchange.receiver),
               interchange.control_number)  # fmt: skip
        holder = tx.interchange_exchange(direction="in", sender=key[0], receiver=key[1],
                                         control_number=key[2])  # fmt: skip
        if holder is None or holder == record.id or not force:
            continue  # not forced: a copy held elsewhere simply comes out duplicate again
        state = tx.exchange(holder).state
        if state not in ("rejected", "quarantined"):
            raise _Refused(f"ISA13 {key[2]} from {key[0]} is held by exchange {holder} "
                           f"({state}): processing this copy would process the "
                           f"interchange twice")  # fmt: skip
        holders.append((holder, key))
    return holders


def _check_export(tx: Repository, payload: bytes) -> None:
    """Refuse an export whose document (type + business key) was rendered already."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return  # the render refuses it again, with the reason
    if not isinstance(data, dict) or data.get("type") not in BUSINESS_KEYS:
        return
    key = data.get(BUSINESS_KEYS[data["type"]])
    if key is None:
        return
    rendered = tx.document_with_key(data["type"], str(key))
    if rendered is not None:
        raise _Refused(f"a {data['type']} {key} was rendered already (exchange "
                       f"{rendered.exchange_id}): its interchange would be sent twice")  # fmt: skip


def _po_numbers(tree: X12Document) -> list[str]:
    """BEG03 of every 850 of the bytes."""
    found = []
    for interchange in tree.interchanges:
        for group in interchange.groups:
            for transaction in group.transactions:
                if transaction.set_id != "850":
                    continue
                beg = next((s for s in transaction.segments if s.tag == "BEG"), None)
                if beg is not None and beg.text(3):
                    found.append(beg.text(3))
    return found


# -- shared helpers --------------------------------------------------------------------------


def _what(record: ExchangeDetail) -> str:
    way = "an inbound" if record.direction == "in" else "an outbound"
    return f"{way} {record.channel} exchange"


def _configured(config: Config, partner: str) -> None:
    try:
        config.partner(partner)
    except ConfigError as exc:
        raise _Refused(f"partner {partner} is not configured ({exc})") from exc


def _payload(tx: Repository, record: ExchangeDetail) -> bytes:
    if record.size > 0 and record.stored_bytes == 0:
        raise _Refused("its bytes were purged by the retention job")
    return tx.payload(record.id)


def _derived_name(tx: Repository, record: ExchangeDetail, label: str) -> str:
    """``<stem>.<label>-N.<ext>``, the first N not taken, safe as a file name."""
    base = _DERIVED.sub("", record.file_name)
    stem, dot, extension = base.rpartition(".")
    if not stem:
        stem, dot, extension = base, "", ""
    for number in range(1, 10_000):
        tail = f".{label}-{number}{dot}{extension}"
        name = stem[: MAX_NAME_CHARS - len(tail)] + tail
        try:
            safe_name(name)
        except UnsafeNameError as exc:
            raise _Refused(f"no safe file name can be made from {record.file_name!r}: "
                           f"{exc}") from exc  # fmt: skip
        if not tx.file_name_taken(channel=record.channel, direction=record.direction,
                                  partner=record.partner, name=name):  # fmt: skip
            return name
    raise _Refused(f"every {label} name of {record.file_name} is taken")


# -- views -----------------------------------------------------------------------------------


def printable(data: bytes | str) -> str:
    """Text fit for a terminal: bytes that are not UTF-8 as ``\\xNN``, control and format
    characters escaped (``\\r``, ``\\x00``, ``\\u202e``), everything else as is (for
    people to read safely, not to decode: a backslash stays a backslash)."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char).startswith("C") or char in "\u2028\u2029":
            escaped = repr(char)[1:-1]
            out.append(escaped if escaped != char else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _x12_tree(payload: bytes) -> X12Document | None:
    if not _looks_x12(payload):
        return None
    tree = parse(payload)
    return tree if tree.interchanges else None


def _looks_x12(payload: bytes) -> bool:
    return payload.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ISA")


def x12_lines(payload: bytes) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The segments of raw X12, one per line: ``{"n", "offset", "segment"}`` (escaped
    text, terminator left out), plus where reading stopped when it did (offset, message
    and the rest of the bytes, escaped and cut at 2,000 characters)."""
    lines: list[dict[str, Any]] = []
    try:
        for token in Lexer(io.BytesIO(payload)):
            start = token.segment.offset
            end = payload.find(token.delimiters.segment.encode("latin-1"), start + 3)
            raw = payload[start: end if end >= 0 else len(payload)]
            lines.append({"n": len(lines) + 1, "offset": start, "segment": printable(raw)})
    except X12SyntaxError as exc:
        rest = printable(payload[exc.offset:])
        return lines, {"offset": exc.offset, "message": exc.message,
                       "rest": rest[:2000] + ("..." if len(rest) > 2000 else "")}  # fmt: skip
    return lines, None


def _place_findings(
    lines: list[dict[str, Any]], tree: X12Document | None, envelopes: list[InterchangeNode]
) -> list[dict[str, Any]]:
    """Attach each stored finding to the segment it names (by byte offset, else by its
    position in its set); returns those that name none. Group findings are stored with
    every set of the group: each is attached once."""
    offsets = [line["offset"] for line in lines]
    by_offset = {line["offset"]: line for line in lines}
    for line in lines:
        line["findings"] = []
    unplaced: list[dict[str, Any]] = []
    seen: set[str] = set()
    for interchange in envelopes:
        for group in interchange.groups:
            for transaction in group.transactions:
                for finding in transaction.findings:
                    marker = json.dumps(finding, sort_keys=True)
                    if marker in seen:
                        continue
                    seen.add(marker)
                    numbers = (interchange.control_number, group.control_number,
                               transaction.control_number)  # fmt: skip
                    offset = _finding_offset(finding, tree, *numbers)
                    if offset is None or not offsets or offset < offsets[0]:
                        unplaced.append(finding)
                        continue
                    start = max(o for o in offsets if o <= offset)
                    by_offset[start]["findings"].append(finding)
    return unplaced


def _finding_offset(
    finding: dict[str, Any], tree: X12Document | None, isa13: str, gs06: str, st02: str
) -> int | None:
    offset = finding.get("offset")
    if isinstance(offset, int) and offset >= 0:
        return offset
    position = finding.get("position")
    if tree is None or not isinstance(position, int) or position < 1:
        return None
    for interchange in tree.interchanges:
        if interchange.control_number != isa13:
            continue
        for group in interchange.groups:
            if group.control_number != gs06:
                continue
            for transaction in group.transactions:
                segments = transaction.all_segments()
                if transaction.control_number == st02 and position <= len(segments):
                    return segments[position - 1].offset
    return None


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _envelopes_json(envelopes: Iterable[InterchangeNode]) -> list[dict[str, Any]]:
    return [
        {"id": i.id, "direction": i.direction, "sender": i.sender, "receiver": i.receiver,
         "isa13": i.control_number, "version": i.version, "usage": i.usage,
         "status": i.status, "superseded_by": i.superseded_by,
         "groups": [
             {"id": g.id, "gs01": g.functional_id, "gs06": g.control_number,
              "version": g.version, "status": g.status, "ack_status": g.ack_status,
              "ack_exchange": g.ack_exchange_id, "ack_due_at": _when(g.ack_due_at),
              "acked_at": _when(g.acked_at),
              "transactions": [
                  {"id": t.id, "st01": t.set_id, "st02": t.control_number,
                   "business_key": t.business_key, "status": t.status,
                   "ack_status": t.ack_status, "findings": list(t.findings)}
                  for t in g.transactions
              ]}
             for g in i.groups
         ]}
        for i in envelopes
    ]  # fmt: skip


def _relation(parent: Any, child: Any) -> str:
    """How an exchange came from another: the 997 sent for it, the interchange rendered
    from an export, a reprocess, a resend."""
    if child.kind == "ack":
        return "acknowledgment"
    if parent.channel == "erp" and child.channel == "partner":
        return "rendered"
    if parent.direction == child.direction == "in":
        return "reprocess"
    if parent.direction == child.direction == "out":
        return "resend"
    return "derived"


def _brief(record: Any) -> dict[str, Any]:
    return {"id": record.id, "direction": record.direction, "channel": record.channel,
            "kind": record.kind, "partner": record.partner, "state": record.state,
            "file_name": record.file_name, "created_at": _when(record.created_at)}  # fmt: skip


def _body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def exchange_view(store: Store, exchange_id: int) -> dict[str, Any] | None:
    """Everything about one exchange (``acorn tx show``), JSON-ready; None when unknown."""
    with store.transaction() as tx:
        record = tx.exchange_detail(exchange_id)
        if record is None:
            return None
        envelopes = tx.envelope_tree(exchange_id)
        events = tx.events(exchange_id)
        payload = tx.payload(exchange_id) if record.stored_bytes else b""
        documents = tx.documents_of_exchange(exchange_id)
        parent = tx.exchange(record.parent_id) if record.parent_id else None
        children = tx.exchanges(parent_id=exchange_id)
        acknowledged = tx.groups_acknowledged_by(exchange_id)
        as2 = []
        for message_id in tx.as2_message_ids(exchange_id):
            message = tx.as2_message(message_id)
            mdn = tx.as2_mdn(message_id)
            as2.append({
                "id": message.id, "direction": message.direction,
                "message_id": printable(message.message_id), "status": message.status,
                "reason": message.reason, "disposition": message.disposition,
                "mic": message.mic, "mdn_mode": message.mdn_mode,
                "mdn_state": message.mdn_state, "attempts": message.attempts,
                "created_at": _when(message.created_at),
                "mdn": printable(mdn) if mdn else None,
            })  # fmt: skip
    view: dict[str, Any] = {
        "exchange": {**asdict(record), "created_at": _when(record.created_at),
                     "updated_at": _when(record.updated_at),
                     "lease_expires_at": _when(record.lease_expires_at),
                     "purged": record.size > 0 and record.stored_bytes == 0},
        "envelopes": _envelopes_json(envelopes),
        "timeline": [{"at": _when(at), "event": kind, "detail": detail}
                     for at, kind, detail in events],
        "content": "empty", "x12": [], "x12_error": None, "unlocated_findings": [],
        "json": None, "text": None,
        "documents": [
            {**asdict(d), "body": _body(d.body), "created_at": _when(d.created_at),
             "delivered_at": _when(d.delivered_at)}
            for d in documents
        ],
        "linked": {
            "parent": ({**_brief(parent), "relation": _relation(parent, record)}
                       if parent else None),
            "children": [{**_brief(c), "relation": _relation(record, c)} for c in children],
            "acknowledges": [asdict(group) for group in acknowledged],
        },
        "as2": as2,
    }  # fmt: skip
    if view["exchange"]["purged"]:
        view["content"] = "purged"
    elif _looks_x12(payload):
        lines, error = x12_lines(payload)
        tree = parse(payload)
        view["unlocated_findings"] = _place_findings(lines, tree, envelopes)
        view.update(content="x12", x12=lines, x12_error=error)
    elif payload:
        try:
            view.update(content="json", json=json.loads(payload.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            view.update(content="text", text=printable(payload))
        if record.state == "rejected" and record.channel == "erp":
            view["unlocated_findings"] = _export_problems(record.reason)
    return view


def _export_problems(reason: str | None) -> list[dict[str, Any]]:
    """A rejected export's problems (stored as JSON in its reason), by JSON path."""
    try:
        problems = json.loads(reason or "[]")
    except ValueError:
        return []
    return problems if isinstance(problems, list) else []


# -- a purchase order ------------------------------------------------------------------------


def _ack_of(tx: Repository, exchange_id: int) -> dict[str, Any] | None:
    """What a 997 we sent says (AK1 GS01/GS06, AK9 status), read from its bytes."""
    detail = tx.exchange_detail(exchange_id)
    if detail is None or not detail.stored_bytes:
        return None
    tree = _x12_tree(tx.payload(exchange_id))
    if tree is None:
        return None
    for interchange in tree.interchanges:
        for group in interchange.groups:
            for transaction in group.transactions:
                segments = {s.tag: s for s in transaction.segments}
                if transaction.set_id == "997" and "AK1" in segments:
                    ak9 = segments.get("AK9")
                    return {"gs01": segments["AK1"].text(1), "gs06": segments["AK1"].text(2),
                            "ak9": ak9.text(1) if ak9 else None}  # fmt: skip
    return None


def _sent_entry(tx: Repository, out: Any) -> dict[str, Any]:
    """An outbound interchange rendered for a document: state, envelopes, AS2 evidence,
    the partner's 997 and any resent copies."""
    tree = tx.envelope_tree(out.id)
    groups = [g for i in tree for g in i.groups]
    message = tx.as2_of_exchange(out.id, "out")
    acks = [{"gs01": g.functional_id, "gs06": g.control_number,
             "status": g.ack_status, "exchange": g.ack_exchange_id,
             "acked_at": _when(g.acked_at), "due_at": _when(g.ack_due_at)}
            for g in groups]  # fmt: skip
    return {
        "exchange": out.id, "file": out.file_name, "state": out.state,
        "envelopes": tx.transactions_of_exchange(out.id),
        "isa13": tree[0].control_number if tree else None,
        "as2": ({"message_id": printable(message.message_id), "status": message.status,
                 "disposition": message.disposition} if message else None),
        "acknowledgment": acks[0] if acks else None,
        "resends": [{"exchange": c.id, "file": c.file_name, "state": c.state}
                    for c in tx.exchanges(parent_id=out.id) if c.direction == "out"],
    }  # fmt: skip


def po_chain(store: Store, po_number: str, partner: str | None = None) -> list[dict[str, Any]]:
    """The documents of one PO, oldest first, each with its exchanges and acknowledgments
    (``acorn chain`` and ``acorn po status``)."""
    links = []
    with store.transaction() as tx:
        for document in tx.po_documents(po_number, partner):
            exchange = tx.exchange(document.exchange_id)
            entry: dict[str, Any] = {
                "type": document.type, "set": SET_OF_DOCUMENT.get(document.type),
                "partner": document.partner, "business_key": document.business_key,
                "state": document.state, "created_at": _when(document.created_at),
                "exchange": exchange.id, "exchange_state": exchange.state,
                "file": exchange.file_name,
            }  # fmt: skip
            if document.type == "purchase_order":
                entry.update(_order_entry(tx, document, exchange))
            else:
                # Only this export's interchanges: loading every exchange (and its
                # payload) for each document made the command slow on a real store.
                entry["sent"] = [_sent_entry(tx, o) for o in tx.exchanges(parent_id=exchange.id)
                                 if o.direction == "out"]  # fmt: skip
            links.append(entry)
    return links


def _order_entry(tx: Repository, document: DocumentView, exchange: Any) -> dict[str, Any]:
    place = tx.transaction_place(document.transaction_id) if document.transaction_id else None
    acks = []
    for child in tx.exchanges(parent_id=exchange.id):
        if child.kind != "ack":
            continue
        said = _ack_of(tx, child.id)
        if said and place and said["gs06"] != place.gs06:
            continue  # the 997 of another group of the same file
        sent = tx.envelope_tree(child.id)
        acks.append({"exchange": child.id, "file": child.file_name, "state": child.state,
                     "isa13": sent[0].control_number if sent else None,
                     "ak9": said["ak9"] if said else None})  # fmt: skip
    return {
        "po_ack_state": document.po_state,
        "envelopes": tx.transactions_of_exchange(exchange.id),
        "received_at": _when(exchange.created_at),
        "delivered_at": _when(document.delivered_at),
        "delivery_name": document.delivery_name,
        "isa13": place.isa13 if place else None, "gs06": place.gs06 if place else None,
        "st02": place.st02 if place else None,
        "our_997": acks,
    }  # fmt: skip


def po_status(
    store: Store, config: Config, po_number: str, now: datetime, partner: str | None = None
) -> dict[str, Any] | None:
    """A PO's chain (:func:`po_chain`) and what is due: the 855 by ``created_at`` +
    ``gateway.po_ack_due_hours``, whether an 856 and an 810 exist. None when unknown."""
    links = po_chain(store, po_number, partner)
    if not links:
        return None
    orders = [link for link in links if link["type"] == "purchase_order"]
    due: dict[str, Any] = {}
    window = timedelta(hours=config.gateway.po_ack_due_hours)
    acknowledgment = _progress(links, "po_acknowledgment")
    if orders:
        deadline = datetime.fromisoformat(orders[0]["created_at"]) + window
        acknowledgment["deadline"] = _when(deadline)
        if acknowledgment["state"] == "missing":
            left = (deadline - now).total_seconds()
            acknowledgment["state"] = "late" if left < 0 else "due"
            acknowledgment["seconds_left"] = int(left)
    due["855"] = acknowledgment
    due["856"] = _progress(links, "ship_notice")
    due["810"] = _progress(links, "invoice")
    partners = sorted({link["partner"] for link in links})
    return {"po_number": po_number, "partners": partners, "documents": links, "due": due}


def _progress(links: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    """``sent`` (an interchange of it was sent), ``queued`` (rendered, not sent yet) or
    ``missing``, with the 997 outcome of the latest one sent."""
    found = [link for link in links if link["type"] == type_]
    sent = [s for link in found for s in link.get("sent", []) if s["state"] == "sent"]
    if sent:
        ack = sent[-1]["acknowledgment"]
        return {"state": "sent", "exchange": sent[-1]["exchange"],
                "ack": ack["status"] if ack else None}  # fmt: skip
    if found:
        return {"state": "queued", "exchange": found[-1]["exchange"], "ack": None}
    return {"state": "missing", "exchange": None, "ack": None}


def summary_json(s: ExchangeSummary) -> dict[str, Any]:
    """One line of the exchange list as JSON (``acorn tx list --json``, ``/api/exchanges``)."""
    return {
        "id": s.id, "created_at": s.created_at.isoformat(timespec="seconds"),
        "direction": s.direction, "channel": s.channel, "kind": s.kind, "partner": s.partner,
        "sets": s.sets, "state": s.state, "file_name": s.file_name, "size": s.size,
        "po_numbers": list(s.po_numbers), "invoices": list(s.invoices),
        "shipments": list(s.shipments), "business_key": s.business_key,
        "parent_id": s.parent_id, "reason": s.reason,
    }  # fmt: skip


def span(seconds: float) -> str:
    """A duration for people: ``2d 3h``, ``5h 12m``, ``12m``, ``under a minute``."""
    minutes = int(abs(seconds)) // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else "under a minute"
