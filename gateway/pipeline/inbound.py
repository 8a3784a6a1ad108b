"""Inbound: X12 from a partner, from the transport to terminal states.

1. **Pick up** (:func:`pick_up`): each complete file is stored with its bytes and sha256
   (committed) *before* it is removed from the partner side (reliability.md G1). The same
   name + sha256 again is recognised by the UNIQUE constraint and only removed.
2. **Process** (:func:`process_received`), each exchange all or nothing (several may share
   one commit): parse, validate, record interchanges/groups/sets, queue the 997 (or TA1),
   turn each accepted 850 into a purchase order to deliver, match each accepted 997 to our
   outbound group. Ends in
   ``delivering`` (purchase orders to write), ``processed``, ``rejected`` (nothing
   accepted), ``duplicate`` (a repeated interchange: answered again, never delivered) or
   ``quarantined`` (not X12).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.config import Partner
from gateway.crashpoints import crashpoint
from gateway.erp import FunctionalAck, PurchaseOrder, Source, document_json
from gateway.errors import AcornError, LeaseLost, MappingError, TransportError, X12WriteError
from gateway.mapping import translate
from gateway.mapping.ts997 import to_erp as functional_ack_of
from gateway.pipeline.alerts import (
    ack_overdue_key,
    ack_rejected_key,
    clear_inbound_rejected,
    inbound_rejected_key,
    raise_inbound_rejected,
)
from gateway.pipeline.context import Pipeline
from gateway.pipeline.outgoing import allocate, record_outbound
from gateway.store import ExchangeRecord, GroupRecord, NewDocument, NewTransaction, Repository
from gateway.transports import derive_safe_name
from gateway.validation import (
    GroupReport,
    InterchangeReport,
    ValidationReport,
    build_997,
    build_ta1,
    ta1_code,
    validate_document,
)
from gateway.x12 import FunctionalGroup, Interchange, Transaction, X12Document, serialize

#: How many findings the reason of an exchange lists at most.
_MAX_REASONS = 20


def pick_up(pipeline: Pipeline, partners: Sequence[Partner] | None = None) -> int:
    """Store every complete file waiting at each partner (or at ``partners``), then remove
    it there; returns how many new files were stored. A partner that cannot be reached is
    skipped until the next pass (the files wait on its side; nothing is lost), and so is a
    removal that fails: the next poll sees the file again, finds its row, and removes it
    then. A partner that answered is taken out of ``pipeline.unreachable``."""
    stored = 0
    for partner in pipeline.config.partners if partners is None else partners:
        if partner.transport == "as2":
            continue  # AS2 partners post to us (gateway.pipeline.as2_inbound)
        transport = pipeline.transport(partner)
        try:
            items = transport.poll()
        except TransportError as exc:
            pipeline.unreachable[partner.name] = str(exc)
            continue
        pipeline.unreachable.pop(partner.name, None)
        for item in items:
            with pipeline.store.transaction() as tx:
                exchange_id = tx.add_exchange(
                    channel="partner", direction="in", kind="x12", partner=partner.name,
                    transport=transport.name, reference=item.reference, file_name=item.name,
                    payload=item.data, sha256=item.sha256, state="received",
                )  # fmt: skip
                if exchange_id is not None:
                    tx.event(exchange_id, "file_received", name=item.name, size=item.size)
                    stored += 1
            crashpoint("inbound.stored")
            try:
                transport.remove(item)
            except TransportError as exc:
                pipeline.unreachable[partner.name] = str(exc)
                break
            crashpoint("inbound.removed")
    return stored


#: Group commit: the exchanges of a claimed batch are processed in one database transaction,
#: each in a savepoint of its own (so each is still all or nothing), and committed together
#: once the batch is done or has run this long. One commit, and so one fsync of SQLite's WAL
#: (synchronous=FULL, 2 to 5 ms here), per group instead of per file: at 50 sets a file that
#: was 100 us a set, the largest single cost of inbound processing after the CPU work (issue
#: 10). Short, because the transaction holds SQLite's write lock, which an AS2 receipt in the
#: same gateway waits for before it answers. Nothing leaves the gateway before the commit
#: (997s are queued, purchase orders wait for delivery), so a crash before it only means
#: processing the group again.
GROUP_COMMIT_SECONDS = 0.25


def process_received(pipeline: Pipeline) -> int:
    """Process every stored inbound exchange not yet processed; returns how many (those
    whose lease another process took over are not counted: their work is rolled back).
    Several exchanges may be committed together (:data:`GROUP_COMMIT_SECONDS`)."""
    done = 0
    for batch in pipeline.claimed_batches(states=["received"], kinds=["x12"]):
        waiting = deque(batch)
        while waiting:
            group: list[ExchangeRecord] = []
            started = time.monotonic()
            with pipeline.store.transaction() as tx:
                while waiting and (
                    not group or time.monotonic() - started < GROUP_COMMIT_SECONDS
                ):
                    exchange = waiting.popleft()
                    if pipeline.stopping.is_set():
                        tx.release(exchange.id)  # not started: given back
                    elif _process_in_savepoint(pipeline, tx, exchange):
                        group.append(exchange)
            for _ in group:
                crashpoint("inbound.committed")
            done += len(group)
    return done


def _process_in_savepoint(pipeline: Pipeline, tx: Repository, exchange: ExchangeRecord) -> bool:
    """Process one exchange within ``tx``, all or nothing; False when its lease was lost
    (another process took it over: its work counts, ours is rolled back)."""
    try:
        with tx.savepoint():
            _process_one(pipeline, tx, exchange)
    except LeaseLost:
        return False
    except (AcornError, ValueError, LookupError) as exc:
        # Every input ends in a terminal state (reliability.md G3): what the pipeline
        # cannot process is quarantined with the reason, never left to crash again. The
        # reason adds what validation found, located (T4), when it got that far; a NUL is
        # written visibly (PostgreSQL stores no NUL in text).
        where = "; ".join(getattr(exc, "__notes__", ()))
        if not where:  # raised where the report was out of reach (the savepoint's flush)
            try:
                data = tx.payload(exchange.id)
                where = _reason(validate_document(data, name=exchange.file_name,
                                                  engine=pipeline.engine)[0]) or ""  # fmt: skip
            except (AcornError, ValueError, LookupError):
                where = ""  # validation itself is what failed (maps unusable): the reason says
        detail = _visible(str(exc) + (f" (input: {where})" if where else ""))
        with tx.savepoint():
            reason = f"cannot process: {type(exc).__name__}: {detail}"
            tx.set_state(exchange.id, "quarantined", reason=reason)
            tx.event(exchange.id, "quarantined", reason=detail)
            _inbound_alert(tx, exchange, "quarantined", reason)
    return True


def _visible(text: str) -> str:
    """``text`` fit for any database: each NUL written ``\\x00`` (PostgreSQL stores no NUL
    in text) and each character UTF-8 cannot encode (a lone surrogate standing for an
    undecodable input byte) written as its escape."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def _process_one(pipeline: Pipeline, tx: Repository, exchange: ExchangeRecord) -> None:
    partner = pipeline.config.partner(exchange.partner)
    data = tx.payload(exchange.id)
    # One reading gives both the report and the tree (issue 10: no second parse).
    report, tree = validate_document(data, name=exchange.file_name, engine=pipeline.engine)
    try:
        _record(pipeline, tx, partner, exchange, report, tree)
    except (AcornError, ValueError, LookupError) as exc:
        where = _reason(report)
        if where:
            exc.add_note(where)  # the quarantine reason says where the input is broken (T4)
        raise


def _record(
    pipeline: Pipeline, tx: Repository, partner: Partner, exchange: ExchangeRecord,
    report: ValidationReport, tree: X12Document,
) -> None:  # fmt: skip
    """Record what validation found and set the exchange's state."""
    if not tree.interchanges:
        reason = "; ".join(f.message for f in report.findings) or "no interchange"
        tx.set_state(exchange.id, "quarantined", reason=f"not X12: {reason}")
        tx.event(exchange.id, "quarantined", reason=reason)
        _inbound_alert(tx, exchange, "quarantined", f"not X12: {reason}")
        crashpoint("inbound.validated")
        return
    outcomes = [
        _interchange(pipeline, tx, partner, exchange, interchange, isa_report)
        for interchange, isa_report in zip(tree.interchanges, report.interchanges, strict=False)
    ]
    crashpoint("inbound.validated")
    state = _final_state(outcomes, bool(report.findings))
    reason = _reason(report)
    if state == "quarantined":
        reason = "accepted by the maps but not mappable to a purchase order (see events)"
    tx.set_state(exchange.id, state, reason=reason, owner=pipeline.owner,
                 expected=["received"])  # fmt: skip
    tx.event(exchange.id, f"inbound_{state}", engine=pipeline.engine)
    _inbound_alert(tx, exchange, state, reason)


def _inbound_alert(
    tx: Repository, exchange: ExchangeRecord, state: str, reason: str | None
) -> None:
    """``inbound_rejected`` for an exchange ending ``rejected`` or ``quarantined``. An
    inbound exchange has a parent only when it was reprocessed (``acorn tx reprocess``: a
    copy whose ``parent_id`` chain leads to the earlier attempts): when the copy ends well
    their alerts clear (a recovery notice); when it is rejected again its alert takes
    their place (closed without a recovery notice), so one input holds one alert."""
    rejected = state in ("rejected", "quarantined")
    parent_id = exchange.parent_id
    while parent_id is not None:
        if rejected:
            tx.supersede_alert(inbound_rejected_key(parent_id))
        else:
            clear_inbound_rejected(tx, parent_id)
        parent_id = tx.exchange(parent_id).parent_id
    if rejected:
        raise_inbound_rejected(tx, exchange, state, reason)
    else:
        clear_inbound_rejected(tx, exchange.id)  # processed well again in place


def _reason(report: ValidationReport) -> str | None:
    """Every error found, at any level, each located: a rejected exchange says why
    (reliability.md G3; T4: the reason names a segment or an offset). The document-level
    findings alone leave a set rejected by its map without a reason."""
    errors = [f for f in report.all_findings() if f.severity == "error"]
    located = []
    for finding in errors[:_MAX_REASONS]:
        where = finding.element_name or finding.segment or finding.level
        if finding.offset >= 0:
            where += f" at byte {finding.offset}"
        located.append(f"{where}: {finding.message}")
    if len(errors) > _MAX_REASONS:
        located.append(f"and {len(errors) - _MAX_REASONS} more")
    return _visible("; ".join(located)) or None


def _final_state(outcomes: list[str], document_problem: bool) -> str:
    if "delivering" in outcomes:
        return "delivering"
    if "unmapped" in outcomes:
        # Accepted by the maps yet not carried to the ERP: an order would be lost without
        # anyone knowing, so it waits for an operator, visibly (reliability.md G1, G3).
        return "quarantined"
    if "processed" in outcomes:
        return "processed"
    if outcomes and all(o == "duplicate" for o in outcomes) and not document_problem:
        return "duplicate"
    return "rejected"


def _interchange(
    pipeline: Pipeline,
    tx: Repository,
    partner: Partner,
    exchange: ExchangeRecord,
    interchange: Interchange,
    report: InterchangeReport,
) -> str:
    """Record one interchange and queue its acknowledgments; returns its outcome."""
    sender, receiver = ":".join(interchange.sender), ":".join(interchange.receiver)
    interchange_id = tx.add_interchange(
        exchange_id=exchange.id, direction="in", sender=sender, receiver=receiver,
        control_number=interchange.control_number, version=interchange.version,
        usage=interchange.header.text(15), status=report.status,
    )  # fmt: skip
    _queue_acknowledgments(pipeline, tx, partner, exchange, report)
    if interchange_id is None:
        # Same sender and ISA13 again (reliability.md policy): answered, flagged, never
        # delivered twice.
        first = tx.interchange_exchange(direction="in", sender=sender, receiver=receiver,
                                        control_number=interchange.control_number)  # fmt: skip
        tx.event(exchange.id, "duplicate_interchange", isa13=interchange.control_number,
                 sender=sender, first_exchange=first)  # fmt: skip
        return "duplicate"
    # Every accepted 850 is mapped before anything is written, so that the sets, purchase
    # orders and events of the whole interchange take a few statements, not a few per set.
    groups = _read_groups(partner, exchange, interchange, report)
    po_numbers = [s.order.po_number for _, _, sets in groups for s in sets if s.order]
    orders = _PurchaseOrders(tx, partner, exchange, on_file=tx.existing_po_numbers(
        type="purchase_order", partner=partner.name, po_numbers=po_numbers,
    ) if po_numbers else set())  # fmt: skip
    accepted_any = False
    for group, group_report, sets in groups:
        group_id = tx.add_group(
            interchange_id=interchange_id, functional_id=group.functional_id,
            control_number=group.control_number, version=group.version,
            status=group_report.status,
        )  # fmt: skip
        transaction_ids = tx.add_transactions(group_id, [
            NewTransaction(s.transaction.set_id, s.transaction.control_number, s.status,
                           business_key=s.order.po_number if s.order else None,
                           findings=s.findings)
            for s in sets
        ])  # fmt: skip
        for item, transaction_id in zip(sets, transaction_ids, strict=True):
            if not item.accepted:
                continue
            accepted_any = True
            if item.transaction.set_id == "850":
                orders.add(item, transaction_id, pipeline.now())
            elif item.transaction.set_id == "997":
                orders.write()  # the timeline keeps the order of the sets
                _functional_ack(tx, partner, exchange, item.transaction)
    orders.write()
    if orders.delivering:
        return "delivering"
    if orders.unmapped:
        return "unmapped"
    return "processed" if accepted_any else "rejected"


@dataclass
class _Set:
    """One transaction set of an interchange as read, before anything is written: its
    validation outcome and, for an accepted 850, its purchase order or why it has none."""

    transaction: Transaction
    status: str
    findings: list[dict[str, Any]]
    accepted: bool
    #: Where an accepted 850 came from (its ISA13, GS06, ST02...).
    source: Source | None = None
    order: PurchaseOrder | None = None
    error: MappingError | None = None


def _read_groups(
    partner: Partner, exchange: ExchangeRecord, interchange: Interchange,
    report: InterchangeReport,
) -> list[tuple[FunctionalGroup, GroupReport, list[_Set]]]:  # fmt: skip
    """The groups of an interchange with their reports and sets, each accepted 850 mapped
    to a purchase order (an 850 the maps accept but the mapping cannot carry keeps the
    :class:`MappingError`)."""
    sender = ":".join(interchange.sender)
    groups = []
    # The envelope's verdicts are worked out from all their sets: once, not once per set.
    interchange_rejected = report.status == "rejected"
    for group, group_report in zip(interchange.groups, report.groups, strict=False):
        sets = []
        envelope_rejected = interchange_rejected or group_report.status == "rejected"
        for transaction, txn_report in zip(group.transactions, group_report.transactions,
                                           strict=False):  # fmt: skip
            status = txn_report.status
            accepted = status != "rejected" and not envelope_rejected
            item = _Set(transaction, status,
                        [f.to_dict() for f in txn_report.findings + group_report.findings],
                        accepted)  # fmt: skip
            if accepted and transaction.set_id == "850":
                item.source = source = Source(
                    partner=partner.name, sender=sender,
                    interchange_control_number=interchange.control_number,
                    group_control_number=group.control_number,
                    transaction_control_number=transaction.control_number,
                    received_at=exchange.created_at,
                )  # fmt: skip
                try:
                    item.order = translate(transaction, source=source)
                except MappingError as exc:
                    item.error = exc
            sets.append(item)
        groups.append((group, group_report, sets))
    return groups


def _queue_acknowledgments(
    pipeline: Pipeline,
    tx: Repository,
    partner: Partner,
    exchange: ExchangeRecord,
    report: InterchangeReport,
) -> None:
    """Queue what this interchange calls for: a TA1 when its envelope is rejected, else a
    997 per group (none for a group of 997s), each with fresh control numbers. None for an
    exchange processed again (``acorn tx reprocess``) whose earlier attempt answered: the
    partner has its answer, and a second one would answer one interchange twice."""
    if _answered_before(tx, exchange):
        tx.event(exchange.id, "ack_not_repeated", isa13=report.control_number)
        return
    now = pipeline.now()
    answers = []
    if ta1_code(report) != "000":
        numbers = allocate(tx, partner)
        answers.append(build_ta1(report, interchange_control_number=numbers.interchange,
                                 when=now))  # fmt: skip
    else:
        for group in report.groups:
            if group.functional_id == "FA":
                continue  # no 997 for a 997 (reliability.md 1.7)
            numbers = allocate(tx, partner)
            answer = build_997(report, group, interchange_control_number=numbers.interchange,
                               group_control_number=numbers.group, when=now)  # fmt: skip
            if answer is not None:
                answers.append(answer)
    if report.status != "accepted":
        for answer in answers:
            _check_answer(pipeline, answer)
    for answer in answers:
        record_outbound(tx, partner, answer, kind="ack", parent_id=exchange.id, now=now,
                        ack_timeout=None)  # fmt: skip
    if answers:
        tx.event(exchange.id, "ack_queued", isa13=report.control_number, count=len(answers))


def _check_answer(pipeline: Pipeline, answer: Interchange) -> None:
    """Refuse to queue a 997 or TA1 that breaks our own maps. Answering a damaged
    interchange copies values from it (GS01, GS06, ST01, ST02, the bad value of AK404): when
    one of them was garbled (a digit lost from GS06, a delimiter in ST02), the answer would
    fail the partner's translator as it fails ours (T4). Raises X12WriteError naming the
    element: the input is then quarantined for an operator with that reason, and nothing
    misleading goes out. Checked only for interchanges with findings; a clean one copies
    only values that passed validation."""
    found = [f for f in validate_document(serialize(answer), name="our acknowledgment",
                                          engine=pipeline.engine)[0].all_findings()
             if f.severity == "error"]  # fmt: skip
    if found:
        first = found[0]
        where = f"{first.segment or 'ISA'}{first.element or 0:02d}" if first.element else (
            first.segment or "ISA")  # fmt: skip
        kind = "TA1" if any(s.tag == "TA1" for s in answer.service_segments) else "997"
        raise X12WriteError(f"the {kind} answering this interchange would copy a garbled value "
                            f"and fail our own map ({first.message}); none is sent",
                            element=where)  # fmt: skip


def _answered_before(tx: Repository, exchange: ExchangeRecord) -> bool:
    """Whether an earlier attempt of an exchange (those it was reprocessed from, along
    ``parent_id``) queued a 997 or a TA1."""
    parent_id = exchange.parent_id
    while parent_id is not None:
        if any(child.kind == "ack" for child in tx.exchanges(parent_id=parent_id)):
            return True
        parent_id = tx.exchange(parent_id).parent_id
    return False


class _PurchaseOrders:
    """The purchase orders read from one interchange, waiting for delivery to the ERP inbox:
    gathered set by set (:meth:`add`), then written together (:meth:`write`): their
    documents with one statement, the events of their sets with one more."""

    def __init__(
        self, tx: Repository, partner: Partner, exchange: ExchangeRecord, on_file: set[str]
    ) -> None:
        self._tx, self._partner, self._exchange_id = tx, partner.name, exchange.id
        #: PO numbers of purchase orders recorded before or gathered here.
        self._on_file = on_file
        self._documents: list[NewDocument] = []
        #: (kind, detail, index in ``_documents`` of the document the event names).
        self._events: list[tuple[str, dict[str, Any], int | None]] = []
        #: Accepted 850s the mapping cannot carry, each with the reason.
        self.unmapped: list[str] = []
        #: Whether a purchase order was recorded (one waits for delivery).
        self.delivering = False

    def add(self, item: _Set, transaction_id: int, received_at: datetime) -> None:
        """Gather the purchase order of an accepted 850 (set ``transaction_id``), or note
        that the maps accept it but the mapping cannot carry it."""
        if item.order is None:
            self._events.append(("mapping_failed", {"set": "850", "reason": str(item.error)},
                                 None))  # fmt: skip
            self.unmapped.append(f"850 {item.transaction.control_number}: {item.error}")
            return
        order, source = item.order, item.source
        assert source is not None  # _read_groups sets it with the order
        # The ERP file is named from partner and PO number. The same PO number in another
        # interchange is delivered too (it is another order message) under a name that does
        # not overwrite the first, and flagged for the operators.
        name = f"{self._partner}-{order.po_number}.json"
        if order.po_number in self._on_file:
            name = (f"{self._partner}-{order.po_number}-{source.interchange_control_number}"
                    f"-{source.transaction_control_number}.json")  # fmt: skip
            self._events.append(("po_repeated", {"po": order.po_number}, None))
        # A PO number is partner data: BEG03 may hold "/", "..", "\\" (valid X12). The order
        # still goes to the ERP, under a safe name derived from it (reliability.md T6; the
        # JSON keeps the PO number as sent), and the operators see which name it got.
        safe = derive_safe_name(name)
        if safe != name:
            self._events.append(("delivery_name_derived",
                                 {"po": order.po_number, "name": safe}, None))  # fmt: skip
            name = safe
        self._on_file.add(order.po_number)
        self._events.append(("purchase_order_read", {"po": order.po_number},
                             len(self._documents)))  # fmt: skip
        self._documents.append(NewDocument(
            type="purchase_order", partner=self._partner, business_key=order.po_number,
            po_number=order.po_number, body=document_json(order), exchange_id=self._exchange_id,
            state="pending", transaction_id=transaction_id, delivery_name=name,
            po_state="open", at=received_at,
        ))  # fmt: skip

    def write(self) -> None:
        """Record what was gathered since the last write: the documents, then the events in
        the order of their sets (``purchase_order_read`` names its document)."""
        ids = self._tx.add_documents(self._documents) if self._documents else []
        self.delivering = self.delivering or any(i is not None for i in ids)
        self._tx.add_events([
            (self._exchange_id, kind,
             detail if index is None else {**detail, "document": ids[index]})
            for kind, detail, index in self._events
        ])  # fmt: skip
        self._documents, self._events = [], []


def _functional_ack(
    tx: Repository, partner: Partner, exchange: ExchangeRecord, transaction: object
) -> None:
    """Match a partner's 997 to our outbound group (AK1 GS01/GS06) and record per set."""
    try:
        ack = functional_ack_of(transaction)  # type: ignore[arg-type]
    except MappingError as exc:
        tx.event(exchange.id, "mapping_failed", set="997", reason=str(exc))
        return
    group = tx.outbound_group(partner=partner.name, functional_id=ack.functional_id,
                              control_number=ack.group_control_number)  # fmt: skip
    if group is None:
        tx.event(exchange.id, "ack_unmatched", gs01=ack.functional_id,
                 gs06=ack.group_control_number)  # fmt: skip
        return
    tx.set_group_ack(group.id, ack.status, exchange.id)
    for acknowledged in ack.transactions:
        tx.set_transaction_ack(group.id, acknowledged.control_number, acknowledged.status)
    _ack_alerts(tx, partner, exchange, group, ack)
    tx.event(group.exchange_id, "ack_received", status=ack.status, by_exchange=exchange.id)
    tx.event(exchange.id, "ack_matched", exchange=group.exchange_id, status=ack.status)


def _ack_alerts(
    tx: Repository, partner: Partner, exchange: ExchangeRecord, group: GroupRecord,
    ack: FunctionalAck,
) -> None:  # fmt: skip
    """The 997 ends the group's wait (``ack_overdue`` clears); one that rejects the group
    (AK9 R) or any of its sets (AK5 R) raises ``ack_rejected``, one accepting it all clears
    that."""
    tx.clear_alert(ack_overdue_key(group.id))
    refused = [t for t in ack.transactions if t.status == "rejected"]
    if ack.status != "rejected" and not refused:
        tx.clear_alert(ack_rejected_key(group.id))
        return
    sets = ", ".join(f"{t.set_id} {t.control_number}"
                     + (f" (AK5 {' '.join(t.codes)})" if t.codes else "")
                     for t in refused)  # fmt: skip
    detail = (f"997 in exchange {exchange.id}: AK9 {ack.status}"
              + (f" (AK905 {' '.join(ack.codes)})" if ack.codes else "")
              + f", {ack.sets_accepted} of {ack.sets_included} sets accepted"
              + (f"; rejected: {sets}" if sets else ""))  # fmt: skip
    tx.raise_alert(
        key=ack_rejected_key(group.id), kind="ack_rejected", partner=partner.name,
        subject=(f"{partner.name}: 997 rejects our group {group.functional_id} "
                 f"{group.control_number}"),
        detail=detail, exchange_id=group.exchange_id,
    )  # fmt: skip
