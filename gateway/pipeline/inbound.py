"""Inbound: X12 from a partner, from the transport to terminal states.

1. **Pick up** (:func:`pick_up`): each complete file is stored with its bytes and sha256
   (committed) *before* it is removed from the partner side (reliability.md G1). The same
   name + sha256 again is recognised by the UNIQUE constraint and only removed.
2. **Process** (:func:`process_received`), one database transaction per exchange: parse,
   validate, record interchanges/groups/sets, queue the 997 (or TA1), turn each accepted 850
   into a purchase order to deliver, match each accepted 997 to our outbound group. Ends in
   ``delivering`` (purchase orders to write), ``processed``, ``rejected`` (nothing
   accepted), ``duplicate`` (a repeated interchange: answered again, never delivered) or
   ``quarantined`` (not X12).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gateway.config import Partner
from gateway.crashpoints import crashpoint
from gateway.erp import FunctionalAck, Source, document_json
from gateway.errors import AcornError, LeaseLost, MappingError, TransportError
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
from gateway.store import ExchangeRecord, GroupRecord, Repository
from gateway.validation import (
    InterchangeReport,
    ValidationReport,
    build_997,
    build_ta1,
    ta1_code,
    validate,
)
from gateway.x12 import Interchange, parse

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


def process_received(pipeline: Pipeline) -> int:
    """Process every stored inbound exchange not yet processed; returns how many."""
    done = 0
    for exchange in pipeline.claimed(states=["received"], kinds=["x12"]):
        try:
            _process_one(pipeline, exchange)
        except LeaseLost:
            continue  # another process took it over; its work counts, ours rolled back
        except (AcornError, ValueError, LookupError) as exc:
            # Every input ends in a terminal state (reliability.md G3): what the pipeline
            # cannot process is quarantined with the reason, never left to crash again.
            with pipeline.store.transaction() as tx:
                reason = f"cannot process: {type(exc).__name__}: {exc}"
                tx.set_state(exchange.id, "quarantined", reason=reason)
                tx.event(exchange.id, "quarantined", reason=str(exc))
                _inbound_alert(tx, exchange, "quarantined", reason)
        done += 1
    return done


def _process_one(pipeline: Pipeline, exchange: ExchangeRecord) -> None:
    partner = pipeline.config.partner(exchange.partner)
    with pipeline.store.transaction() as tx:
        data = tx.payload(exchange.id)
        report = validate(data, name=exchange.file_name)
        tree = parse(data)
        if not tree.interchanges:
            reason = "; ".join(f.message for f in report.findings) or "no interchange"
            tx.set_state(exchange.id, "quarantined", reason=f"not X12: {reason}")
            tx.event(exchange.id, "quarantined", reason=reason)
            _inbound_alert(tx, exchange, "quarantined", f"not X12: {reason}")
            crashpoint("inbound.validated")
            return
        outcomes = [
            _interchange(pipeline, tx, partner, exchange, interchange, isa_report)
            for interchange, isa_report in zip(
                tree.interchanges, report.interchanges, strict=False
            )
        ]
        crashpoint("inbound.validated")
        state = _final_state(outcomes, bool(report.findings))
        reason = _reason(report)
        if state == "quarantined":
            reason = "accepted by the maps but not mappable to a purchase order (see events)"
        tx.set_state(exchange.id, state, reason=reason, owner=pipeline.owner,
                     expected=["received"])  # fmt: skip
        tx.event(exchange.id, f"inbound_{state}")
        _inbound_alert(tx, exchange, state, reason)
    crashpoint("inbound.committed")


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
    return "; ".join(located) or None


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
    accepted_any = delivering = False
    unmapped: list[str] = []
    for group, group_report in zip(interchange.groups, report.groups, strict=False):
        group_id = tx.add_group(
            interchange_id=interchange_id, functional_id=group.functional_id,
            control_number=group.control_number, version=group.version,
            status=group_report.status,
        )  # fmt: skip
        for transaction, txn_report in zip(group.transactions, group_report.transactions,
                                           strict=False):  # fmt: skip
            accepted = txn_report.status != "rejected" and group_report.status != "rejected"
            accepted = accepted and report.status != "rejected"
            transaction_id = tx.add_transaction(
                group_id=group_id, set_id=transaction.set_id,
                control_number=transaction.control_number, status=txn_report.status,
                findings=[f.to_dict() for f in txn_report.findings + group_report.findings],
            )  # fmt: skip
            if not accepted:
                continue
            accepted_any = True
            source = Source(
                partner=partner.name, sender=sender,
                interchange_control_number=interchange.control_number,
                group_control_number=group.control_number,
                transaction_control_number=transaction.control_number,
                received_at=exchange.created_at,
            )  # fmt: skip
            if transaction.set_id == "850":
                delivering |= _purchase_order(tx, partner, exchange, transaction,
                                              transaction_id, source, pipeline.now(),
                                              unmapped)  # fmt: skip
            elif transaction.set_id == "997":
                _functional_ack(tx, partner, exchange, transaction)
    if delivering:
        return "delivering"
    if unmapped:
        return "unmapped"
    return "processed" if accepted_any else "rejected"


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
    for answer in answers:
        record_outbound(tx, partner, answer, kind="ack", parent_id=exchange.id, now=now,
                        ack_timeout=None)  # fmt: skip
    if answers:
        tx.event(exchange.id, "ack_queued", isa13=report.control_number, count=len(answers))


def _answered_before(tx: Repository, exchange: ExchangeRecord) -> bool:
    """Whether an earlier attempt of an exchange (those it was reprocessed from, along
    ``parent_id``) queued a 997 or a TA1."""
    parent_id = exchange.parent_id
    while parent_id is not None:
        if any(child.kind == "ack" for child in tx.exchanges(parent_id=parent_id)):
            return True
        parent_id = tx.exchange(parent_id).parent_id
    return False


def _purchase_order(
    tx: Repository,
    partner: Partner,
    exchange: ExchangeRecord,
    transaction: object,
    transaction_id: int,
    source: Source,
    received_at: datetime,
    unmapped: list[str],
) -> bool:
    """Map an accepted 850 to a purchase order waiting for delivery to the ERP inbox; an
    850 the maps accept but the mapping cannot carry is added to ``unmapped``."""
    try:
        order = translate(transaction, source=source)  # type: ignore[arg-type]
    except MappingError as exc:
        tx.event(exchange.id, "mapping_failed", set="850", reason=str(exc))
        unmapped.append(f"850 {source.transaction_control_number}: {exc}")
        return False
    # The ERP file is named from partner and PO number. The same PO number in another
    # interchange is delivered too (it is another order message) under a name that does
    # not overwrite the first, and flagged for the operators.
    name = f"{partner.name}-{order.po_number}.json"
    if tx.documents(type="purchase_order", partner=partner.name, po_number=order.po_number):
        name = (f"{partner.name}-{order.po_number}-{source.interchange_control_number}"
                f"-{source.transaction_control_number}.json")  # fmt: skip
        tx.event(exchange.id, "po_repeated", po=order.po_number)
    document_id = tx.add_document(
        type="purchase_order", partner=partner.name, business_key=order.po_number,
        po_number=order.po_number, body=document_json(order), exchange_id=exchange.id,
        state="pending", transaction_id=transaction_id, delivery_name=name, po_state="open",
        at=received_at,
    )  # fmt: skip
    tx.set_transaction_key(transaction_id, order.po_number)
    tx.event(exchange.id, "purchase_order_read", po=order.po_number, document=document_id)
    return document_id is not None


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
