"""The store: the database behind every promise, and the only importer of SQLAlchemy.

``Store(url)`` opens SQLite (the embedded default: WAL, ``synchronous=FULL``, a busy
timeout) or PostgreSQL; ``upgrade()`` applies the Alembic migrations; ``transaction()``
yields a :class:`Repository` whose every change commits together or not at all. The
pipeline never sees SQLAlchemy: it gets plain records back.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import LeaseLost, StoreError
from gateway.log import register_secret
from gateway.store.operator import OperatorQueries
from gateway.store.tables import (
    Alert,
    As2Message,
    Counter,
    DocumentRow,
    Event,
    Exchange,
    GroupRow,
    InterchangeRow,
    Reservation,
    TransactionRow,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_UPGRADES = threading.Lock()


def utcnow() -> datetime:
    """Now, in UTC, as the naive timestamp every column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ExchangeRecord:
    """An exchange as the pipeline sees it (the payload is fetched on demand)."""

    id: int
    channel: str
    direction: str
    kind: str
    partner: str
    transport: str
    reference: str | None
    file_name: str
    sha256: str
    size: int
    state: str
    reason: str | None
    business_key: str | None
    attempts: int
    parent_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class DocumentRecord:
    """An ERP document row."""

    id: int
    type: str
    partner: str
    business_key: str
    po_number: str | None
    body: str
    exchange_id: int
    state: str
    delivery_name: str | None
    po_state: str | None
    created_at: datetime


@dataclass(frozen=True)
class GroupRecord:
    """An outbound functional group awaiting (or having) its 997."""

    id: int
    interchange_id: int
    exchange_id: int
    partner: str
    functional_id: str
    control_number: str
    ack_status: str | None


@dataclass(frozen=True)
class As2MessageRecord:
    """An AS2 message row without its bytes (``Repository.as2_body`` / ``as2_mdn``)."""

    id: int
    direction: str
    partner: str | None
    message_id: str
    as2_from: str
    as2_to: str
    exchange_id: int | None
    status: str
    reason: str | None
    headers: dict[str, str]
    body_sha256: str | None
    mic: str | None
    disposition: str | None
    certificate: str | None
    mdn_mode: str
    mdn_url: str | None
    mdn_state: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class AlertRecord:
    """An alert: open while ``cleared_at`` is None."""

    id: int
    key: str
    kind: str
    partner: str | None
    subject: str
    detail: str | None
    exchange_id: int | None
    raised_at: datetime
    cleared_at: datetime | None
    notified_at: datetime | None
    recovery_notified_at: datetime | None


def _as2(row: As2Message) -> As2MessageRecord:
    return As2MessageRecord(
        row.id, row.direction, row.partner, row.message_id, row.as2_from, row.as2_to,
        row.exchange_id, row.status, row.reason, json.loads(row.headers), row.body_sha256,
        row.mic, row.disposition, row.certificate, row.mdn_mode, row.mdn_url, row.mdn_state,
        row.attempts, row.next_attempt_at, row.created_at,
    )  # fmt: skip


def _alert(row: Alert) -> AlertRecord:
    return AlertRecord(
        row.id, row.key, row.kind, row.partner, row.subject, row.detail, row.exchange_id,
        row.raised_at, row.cleared_at, row.notified_at, row.recovery_notified_at,
    )  # fmt: skip


def _exchange(row: Exchange) -> ExchangeRecord:
    return ExchangeRecord(
        row.id, row.channel, row.direction, row.kind, row.partner, row.transport,
        row.reference, row.file_name, row.sha256, row.size, row.state, row.reason,
        row.business_key, row.attempts, row.parent_id, row.created_at,
    )  # fmt: skip


def _document(row: DocumentRow) -> DocumentRecord:
    return DocumentRecord(
        row.id, row.type, row.partner, row.business_key, row.po_number, row.body,
        row.exchange_id, row.state, row.delivery_name, row.po_state, row.created_at,
    )  # fmt: skip


class Repository(OperatorQueries):
    """Every query of the gateway, within one database transaction (the operator's
    listings are in :class:`~gateway.store.operator.OperatorQueries`)."""

    def __init__(self, session: Session) -> None:
        self._s = session
        #: The events recorded in this transaction (exchange id, kind, detail).
        self.recorded: list[tuple[int, str, dict[str, Any]]] = []

    # -- exchanges -------------------------------------------------------------------------

    def add_exchange(
        self,
        *,
        channel: str,
        direction: str,
        kind: str,
        partner: str,
        transport: str,
        file_name: str,
        payload: bytes,
        sha256: str,
        state: str,
        reference: str | None = None,
        business_key: str | None = None,
        parent_id: int | None = None,
    ) -> int | None:
        """Record an exchange with its bytes; None when the same file (channel, direction,
        partner, name, sha256) is already recorded — the UNIQUE constraint decides."""
        now = utcnow()
        row = Exchange(
            channel=channel, direction=direction, kind=kind, partner=partner,
            transport=transport, reference=reference, file_name=file_name, sha256=sha256,
            size=len(payload), payload=payload, state=state, business_key=business_key,
            parent_id=parent_id, attempts=0, created_at=now, updated_at=now,
        )  # fmt: skip
        if not self._insert(row):
            return None
        return row.id

    def _insert(self, row: Any) -> bool:
        """Insert in a savepoint: False (and nothing changed) on a UNIQUE conflict."""
        try:
            with self._s.begin_nested():
                self._s.add(row)
                self._s.flush()
        except IntegrityError:
            return False
        return True

    def exchange(self, exchange_id: int) -> ExchangeRecord:
        """One exchange by id."""
        return _exchange(self._s.get_one(Exchange, exchange_id))

    def find_exchange(
        self, *, channel: str, direction: str, partner: str, file_name: str, sha256: str
    ) -> ExchangeRecord | None:
        """The exchange recorded for a file, if any."""
        row = self._s.scalars(
            select(Exchange).where(
                Exchange.channel == channel, Exchange.direction == direction,
                Exchange.partner == partner, Exchange.file_name == file_name,
                Exchange.sha256 == sha256,
            )
        ).first()  # fmt: skip
        return _exchange(row) if row else None

    def payload(self, exchange_id: int) -> bytes:
        """The raw bytes of an exchange, exactly as received or sent."""
        return self._s.scalars(select(Exchange.payload).where(Exchange.id == exchange_id)).one()

    def claim(
        self,
        owner: str,
        *,
        states: Sequence[str],
        kinds: Sequence[str] | None = None,
        lease_seconds: float,
        limit: int = 100,
        exclude: Sequence[int] = (),
    ) -> list[ExchangeRecord]:
        """Lease up to ``limit`` exchanges in ``states`` that nobody holds (or whose lease
        expired): a conditional UPDATE per row, so two processes never hold the same row."""
        now = utcnow()
        query = select(Exchange.id).where(Exchange.state.in_(states)).where(
            (Exchange.lease_owner.is_(None)) | (Exchange.lease_expires_at < now)
            | (Exchange.lease_owner == owner)
        ).order_by(Exchange.id).limit(limit)  # fmt: skip
        if kinds:
            query = query.where(Exchange.kind.in_(kinds))
        if exclude:
            query = query.where(Exchange.id.not_in(list(exclude)))
        claimed = []
        for exchange_id in self._s.scalars(query).all():
            result = self._s.execute(
                update(Exchange)
                .where(Exchange.id == exchange_id, Exchange.state.in_(states))
                .where((Exchange.lease_owner.is_(None)) | (Exchange.lease_expires_at < now)
                       | (Exchange.lease_owner == owner))
                .values(lease_owner=owner,
                        lease_expires_at=now + timedelta(seconds=lease_seconds),
                        attempts=Exchange.attempts + 1, updated_at=now)
            )  # fmt: skip
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(self.exchange(exchange_id))
        return claimed

    def set_state(
        self,
        exchange_id: int,
        state: str,
        *,
        reason: str | None = None,
        release: bool = True,
        owner: str | None = None,
        expected: Sequence[str] | None = None,
    ) -> None:
        """Move an exchange to ``state`` (with a reason), releasing its lease by default.

        With ``owner`` (and ``expected`` states) the move is fenced: it happens only while
        ``owner`` still holds the lease and the row is still in one of ``expected``;
        otherwise :class:`LeaseLost` is raised, so the whole transaction — and the work it
        recorded — rolls back instead of being done a second time by the process that
        took the row over after the lease expired.
        """
        values: dict[str, Any] = {"state": state, "updated_at": utcnow()}
        if reason is not None:
            values["reason"] = reason
        if release:
            values.update(lease_owner=None, lease_expires_at=None)
        statement = update(Exchange).where(Exchange.id == exchange_id)
        if owner is not None:
            statement = statement.where(Exchange.lease_owner == owner)
        if expected is not None:
            statement = statement.where(Exchange.state.in_(expected))
        result = self._s.execute(statement.values(**values))
        if (owner is not None or expected is not None) and result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"exchange {exchange_id} is no longer ours to move to {state}")

    def back_off(self, exchange_id: int, seconds: float) -> None:
        """Keep an exchange from being claimed for ``seconds`` (a retry after a failure):
        the lease passes to nobody and expires when the next try is due."""
        self._s.execute(
            update(Exchange).where(Exchange.id == exchange_id)
            .values(lease_owner="backoff",
                    lease_expires_at=utcnow() + timedelta(seconds=seconds))
        )  # fmt: skip

    def release(self, exchange_id: int) -> None:
        """Give up the lease without changing the state."""
        self._s.execute(
            update(Exchange).where(Exchange.id == exchange_id)
            .values(lease_owner=None, lease_expires_at=None)
        )  # fmt: skip

    def count_states(self) -> dict[str, int]:
        """How many exchanges are in each state."""
        rows = self._s.execute(select(Exchange.state, func.count()).group_by(Exchange.state))
        return {state: count for state, count in rows}

    def exchanges(
        self, *, states: Sequence[str] | None = None, parent_id: int | None = None
    ) -> list[ExchangeRecord]:
        """Exchanges (in ``states``; made from the exchange ``parent_id``), oldest first."""
        query = select(Exchange).order_by(Exchange.id)
        if states:
            query = query.where(Exchange.state.in_(states))
        if parent_id is not None:
            query = query.where(Exchange.parent_id == parent_id)
        return [_exchange(row) for row in self._s.scalars(query)]

    def event(self, exchange_id: int, kind: str, **detail: Any) -> None:
        """Add a fact to an exchange's timeline (also logged once the transaction commits,
        when the store has an event listener)."""
        self._s.add(Event(exchange_id=exchange_id, at=utcnow(), kind=kind,
                          detail=json.dumps(detail, default=str) if detail else None))  # fmt: skip
        self.recorded.append((exchange_id, kind, detail))

    def events(self, exchange_id: int) -> list[tuple[datetime, str, dict[str, Any]]]:
        """The timeline of an exchange."""
        rows = self._s.scalars(
            select(Event).where(Event.exchange_id == exchange_id).order_by(Event.id)
        )
        return [(e.at, e.kind, json.loads(e.detail) if e.detail else {}) for e in rows]

    # -- envelopes -------------------------------------------------------------------------

    def add_interchange(
        self, *, exchange_id: int, direction: str, sender: str, receiver: str,
        control_number: str, version: str, usage: str, status: str,
    ) -> int | None:  # fmt: skip
        """Record an interchange; None when this sender already used this ISA13 with this
        receiver in this direction (a repeated interchange)."""
        row = InterchangeRow(
            exchange_id=exchange_id, direction=direction, sender=sender, receiver=receiver,
            control_number=control_number, version=version, usage=usage, status=status,
        )  # fmt: skip
        return row.id if self._insert(row) else None

    def interchange_exchange(
        self, *, direction: str, sender: str, receiver: str, control_number: str
    ) -> int | None:
        """The exchange that holds an interchange (its rows not superseded), if any."""
        return self._s.scalars(
            select(InterchangeRow.exchange_id).where(
                InterchangeRow.direction == direction, InterchangeRow.sender == sender,
                InterchangeRow.receiver == receiver,
                InterchangeRow.control_number == control_number,
                InterchangeRow.superseded_by.is_(None),
            )
        ).first()  # fmt: skip

    def add_group(
        self, *, interchange_id: int, functional_id: str, control_number: str, version: str,
        status: str, ack_status: str | None = None, ack_due_at: datetime | None = None,
    ) -> int:  # fmt: skip
        """Record a functional group."""
        row = GroupRow(
            interchange_id=interchange_id, functional_id=functional_id,
            control_number=control_number, version=version, status=status,
            ack_status=ack_status, ack_due_at=ack_due_at,
        )  # fmt: skip
        self._s.add(row)
        self._s.flush()
        return row.id

    def add_transaction(
        self, *, group_id: int, set_id: str, control_number: str, status: str,
        business_key: str | None = None, findings: list[dict[str, Any]] | None = None,
    ) -> int:  # fmt: skip
        """Record a transaction set with its validation status and findings."""
        row = TransactionRow(
            group_id=group_id, set_id=set_id, control_number=control_number, status=status,
            business_key=business_key,
            findings=json.dumps(findings, default=str) if findings else None,
        )  # fmt: skip
        self._s.add(row)
        self._s.flush()
        return row.id

    def set_envelope_status(self, exchange_id: int, status: str) -> None:
        """Set the status of every interchange, group and set an outbound exchange carries
        (``queued`` when recorded; ``sent`` or ``failed`` with the exchange)."""
        interchanges = select(InterchangeRow.id).where(InterchangeRow.exchange_id == exchange_id)
        groups = select(GroupRow.id).where(GroupRow.interchange_id.in_(interchanges))
        self._s.execute(update(TransactionRow).where(TransactionRow.group_id.in_(groups))
                        .values(status=status))  # fmt: skip
        self._s.execute(update(GroupRow).where(GroupRow.id.in_(groups)).values(status=status))
        self._s.execute(update(InterchangeRow).where(InterchangeRow.id.in_(interchanges))
                        .values(status=status))  # fmt: skip

    def set_transaction_key(self, transaction_id: int, business_key: str) -> None:
        """Record the business key (PO number...) of a set once it is known."""
        self._s.execute(
            update(TransactionRow).where(TransactionRow.id == transaction_id)
            .values(business_key=business_key)
        )  # fmt: skip

    def next_control_number(self, partner: str, name: str) -> int:
        """The next value of a partner's counter (``isa13``, ``gs06``), allocated in this
        transaction: a rollback gives it back, a commit uses it for ever. One atomic
        ``UPDATE ... RETURNING``, so two writers can never read the same value."""
        increment = (
            update(Counter)
            .where(Counter.partner == partner, Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        )
        value = self._s.scalars(increment).first()
        if value is None:
            if self._insert(Counter(partner=partner, name=name, value=1)):
                return 1
            value = self._s.scalars(increment).one()
        if value > 999_999_999:
            raise StoreError(f"control number counter {name} of {partner} is exhausted")
        return value

    def outbound_group(
        self, *, partner: str, functional_id: str, control_number: str
    ) -> GroupRecord | None:
        """Our outbound group to ``partner`` with GS01/GS06, for matching a 997 (AK1)."""
        row = self._s.execute(
            select(GroupRow, InterchangeRow.exchange_id)
            .join(InterchangeRow, GroupRow.interchange_id == InterchangeRow.id)
            .join(Exchange, InterchangeRow.exchange_id == Exchange.id)
            .where(InterchangeRow.direction == "out", Exchange.partner == partner,
                   GroupRow.functional_id == functional_id,
                   GroupRow.control_number == control_number)
        ).first()  # fmt: skip
        if row is None:
            return None
        group, exchange_id = row
        return GroupRecord(group.id, group.interchange_id, exchange_id, partner,
                           group.functional_id, group.control_number, group.ack_status)  # fmt: skip

    def set_group_ack(self, group_id: int, status: str, ack_exchange_id: int | None) -> None:
        """Record the 997 outcome of an outbound group."""
        self._s.execute(
            update(GroupRow).where(GroupRow.id == group_id)
            .values(ack_status=status, ack_exchange_id=ack_exchange_id, acked_at=utcnow())
        )  # fmt: skip

    def set_transaction_ack(self, group_id: int, control_number: str, status: str) -> None:
        """Record the 997 outcome (AK5) of one set of an outbound group."""
        self._s.execute(
            update(TransactionRow)
            .where(TransactionRow.group_id == group_id,
                   TransactionRow.control_number == control_number)
            .values(ack_status=status)
        )  # fmt: skip

    def mark_overdue_groups(self, now: datetime) -> list[GroupRecord]:
        """Outbound groups still waiting for a 997 past their due time become ``overdue``."""
        rows = self._s.execute(
            select(GroupRow, InterchangeRow.exchange_id, Exchange.partner)
            .join(InterchangeRow, GroupRow.interchange_id == InterchangeRow.id)
            .join(Exchange, InterchangeRow.exchange_id == Exchange.id)
            .where(GroupRow.ack_status == "pending", GroupRow.ack_due_at < now)
        ).all()  # fmt: skip
        found = []
        for group, exchange_id, partner in rows:
            group.ack_status = "overdue"
            found.append(
                GroupRecord(group.id, group.interchange_id, exchange_id, partner,
                            group.functional_id, group.control_number, "overdue")
            )  # fmt: skip
        self._s.flush()
        return found

    # -- documents -------------------------------------------------------------------------

    def add_document(
        self, *, type: str, partner: str, business_key: str, po_number: str | None,
        body: str, exchange_id: int, state: str, transaction_id: int | None = None,
        delivery_name: str | None = None, po_state: str | None = None,
        at: datetime | None = None,
    ) -> int | None:  # fmt: skip
        """Record an ERP document (created ``at`` the pipeline's clock, default now); None
        when its transaction set already has one."""
        row = DocumentRow(
            type=type, partner=partner, business_key=business_key, po_number=po_number,
            body=body, exchange_id=exchange_id, state=state, transaction_id=transaction_id,
            delivery_name=delivery_name, po_state=po_state, created_at=at or utcnow(),
        )  # fmt: skip
        return row.id if self._insert(row) else None

    def documents(
        self, *, states: Sequence[str] | None = None, type: str | None = None,
        partner: str | None = None, po_number: str | None = None,
    ) -> list[DocumentRecord]:  # fmt: skip
        """Documents matching the filters, oldest first."""
        query = select(DocumentRow).order_by(DocumentRow.id)
        if states:
            query = query.where(DocumentRow.state.in_(states))
        if type:
            query = query.where(DocumentRow.type == type)
        if partner:
            query = query.where(DocumentRow.partner == partner)
        if po_number:
            query = query.where(DocumentRow.po_number == po_number)
        return [_document(row) for row in self._s.scalars(query)]

    def set_document_state(self, document_id: int, state: str) -> None:
        """Move a document (``pending`` -> ``staged`` -> ``delivered``)."""
        values: dict[str, Any] = {"state": state}
        if state == "delivered":
            values["delivered_at"] = utcnow()
        self._s.execute(update(DocumentRow).where(DocumentRow.id == document_id).values(**values))

    def set_po_state(self, document_id: int, po_state: str) -> None:
        """The 855 clock of a purchase order: ``open``, ``due``, ``late``, ``acknowledged``."""
        self._s.execute(
            update(DocumentRow).where(DocumentRow.id == document_id).values(po_state=po_state)
        )

    def reserve(
        self, *, kind: str, partner: str, value: str, document_id: int,
        expires_at: datetime | None,
    ) -> bool:  # fmt: skip
        """Take a business key for a document; False when it is already taken."""
        reservation = Reservation(kind=kind, partner=partner, value=value,
                                  document_id=document_id, expires_at=expires_at)  # fmt: skip
        return self._insert(reservation)

    def purge_reservations(self, now: datetime) -> int:
        """Free the business keys whose window has passed; returns how many."""
        rows = self._s.scalars(
            select(Reservation).where(Reservation.expires_at.is_not(None),
                                      Reservation.expires_at < now)
        ).all()  # fmt: skip
        for row in rows:
            self._s.delete(row)
        return len(rows)

    def transactions_of_exchange(self, exchange_id: int) -> list[dict[str, Any]]:
        """The interchanges, groups and sets recorded for an exchange, flattened."""
        rows = self._s.execute(
            select(InterchangeRow, GroupRow, TransactionRow)
            .join(GroupRow, GroupRow.interchange_id == InterchangeRow.id)
            .join(TransactionRow, TransactionRow.group_id == GroupRow.id)
            .where(InterchangeRow.exchange_id == exchange_id)
            .order_by(TransactionRow.id)
        ).all()  # fmt: skip
        return [
            {"isa13": i.control_number, "sender": i.sender, "receiver": i.receiver,
             "gs01": g.functional_id, "gs06": g.control_number, "group_ack": g.ack_status,
             "set_id": t.set_id, "st02": t.control_number, "status": t.status,
             "business_key": t.business_key, "ack": t.ack_status}
            for i, g, t in rows
        ]  # fmt: skip

    # -- the daemon: metrics, leases, retention ---------------------------------------------

    def exchange_counts(self) -> list[tuple[str, str, str, int]]:
        """How many exchanges per (direction, partner, state)."""
        rows = self._s.execute(
            select(Exchange.direction, Exchange.partner, Exchange.state, func.count())
            .group_by(Exchange.direction, Exchange.partner, Exchange.state)
        ).all()  # fmt: skip
        return [(d, p, st, int(n)) for d, p, st, n in rows]

    def rejected_transaction_count(self) -> dict[str, int]:
        """Inbound transaction sets rejected by validation, per partner."""
        rows = self._s.execute(
            select(Exchange.partner, func.count())
            .select_from(TransactionRow)
            .join(GroupRow, GroupRow.id == TransactionRow.group_id)
            .join(InterchangeRow, InterchangeRow.id == GroupRow.interchange_id)
            .join(Exchange, Exchange.id == InterchangeRow.exchange_id)
            .where(InterchangeRow.direction == "in", TransactionRow.status == "rejected")
            .group_by(Exchange.partner)
        ).all()  # fmt: skip
        return {partner: int(n) for partner, n in rows}

    def event_counts(self, kind: str) -> dict[str, int]:
        """How many events of ``kind`` per partner (e.g. ``send_failed``)."""
        rows = self._s.execute(
            select(Exchange.partner, func.count()).select_from(Event)
            .join(Exchange, Exchange.id == Event.exchange_id)
            .where(Event.kind == kind).group_by(Exchange.partner)
        ).all()  # fmt: skip
        return {partner: int(n) for partner, n in rows}

    def ack_latencies(self) -> list[tuple[str, float]]:
        """Seconds from sending each acknowledged outbound group to its 997, per partner."""
        rows = self._s.execute(
            select(Exchange.partner, Exchange.created_at, GroupRow.acked_at)
            .select_from(GroupRow)
            .join(InterchangeRow, InterchangeRow.id == GroupRow.interchange_id)
            .join(Exchange, Exchange.id == InterchangeRow.exchange_id)
            .where(InterchangeRow.direction == "out", GroupRow.acked_at.is_not(None))
        ).all()  # fmt: skip
        return [(partner, max((acked - sent).total_seconds(), 0.0))
                for partner, sent, acked in rows]  # fmt: skip

    def release_leases(self, owner: str) -> int:
        """Give back every lease ``owner`` holds (a stopping process); returns how many."""
        result = self._s.execute(
            update(Exchange).where(Exchange.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )  # fmt: skip
        return int(result.rowcount)  # type: ignore[attr-defined]

    def purge_evidence(self, before: datetime, terminal: Sequence[str]) -> int:
        """Drop the bytes kept as evidence of exchanges created before ``before`` in a
        ``terminal`` state (reliability.md policy: kept 400 days by default): the payload
        becomes empty (``size`` still says what it was), the AS2 bodies and MDNs go; the rows,
        envelopes and timeline stay. Returns how many exchanges were purged."""
        ids = self._s.scalars(
            select(Exchange.id).where(
                Exchange.created_at < before, Exchange.state.in_(list(terminal)),
                Exchange.size > 0, func.length(Exchange.payload) > 0,
            )
        ).all()  # fmt: skip
        if not ids:
            return 0
        self._s.execute(update(Exchange).where(Exchange.id.in_(ids)).values(payload=b""))
        self._s.execute(update(As2Message).where(As2Message.exchange_id.in_(ids))
                        .values(body=None, mdn=None))  # fmt: skip
        for exchange_id in ids:
            self.event(exchange_id, "evidence_purged")
        return len(ids)

    # -- AS2 messages ----------------------------------------------------------------------

    def add_as2_message(
        self,
        *,
        direction: str,
        message_id: str,
        as2_from: str,
        as2_to: str,
        status: str,
        headers: dict[str, str],
        mdn_mode: str,
        partner: str | None = None,
        dedupe_key: str | None = None,
        exchange_id: int | None = None,
        reason: str | None = None,
        body: bytes | None = None,
        body_sha256: str | None = None,
        mic: str | None = None,
        disposition: str | None = None,
        certificate: str | None = None,
        mdn: bytes | None = None,
        mdn_url: str | None = None,
        mdn_state: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> int | None:
        """Record an AS2 message; None when ``dedupe_key`` is already taken (the same
        Message-ID was processed first by someone else: the UNIQUE constraint decides)."""
        now = utcnow()
        row = As2Message(
            direction=direction, partner=partner, message_id=message_id, as2_from=as2_from,
            as2_to=as2_to, dedupe_key=dedupe_key, exchange_id=exchange_id, status=status,
            reason=reason, headers=json.dumps(headers), body=body, body_sha256=body_sha256,
            mic=mic, disposition=disposition, certificate=certificate, mdn_mode=mdn_mode,
            mdn=mdn, mdn_url=mdn_url, mdn_state=mdn_state, attempts=0,
            next_attempt_at=next_attempt_at, created_at=now, updated_at=now,
        )  # fmt: skip
        if dedupe_key is None:
            self._s.add(row)
            self._s.flush()
            return row.id
        return row.id if self._insert(row) else None

    def as2_message(self, message_id: int) -> As2MessageRecord:
        """One AS2 message by row id."""
        return _as2(self._s.get_one(As2Message, message_id))

    def as2_by_key(self, dedupe_key: str) -> As2MessageRecord | None:
        """The message that holds ``dedupe_key``, if any."""
        row = self._s.scalars(select(As2Message).where(As2Message.dedupe_key == dedupe_key))
        found = row.first()
        return _as2(found) if found else None

    def as2_of_exchange(self, exchange_id: int, direction: str) -> As2MessageRecord | None:
        """The latest AS2 message carrying an exchange in ``direction``."""
        row = self._s.scalars(
            select(As2Message)
            .where(As2Message.exchange_id == exchange_id, As2Message.direction == direction)
            .order_by(As2Message.id.desc())
        ).first()  # fmt: skip
        return _as2(row) if row else None

    def as2_messages(
        self, *, direction: str | None = None, message_id: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[As2MessageRecord]:  # fmt: skip
        """AS2 messages, oldest first, filtered by direction, Message-ID and status."""
        query = select(As2Message).order_by(As2Message.id)
        if direction:
            query = query.where(As2Message.direction == direction)
        if message_id is not None:
            query = query.where(As2Message.message_id == message_id)
        if statuses:
            query = query.where(As2Message.status.in_(statuses))
        return [_as2(row) for row in self._s.scalars(query)]

    def as2_body(self, message_id: int) -> bytes | None:
        """The raw HTTP body of an AS2 message (the evidence)."""
        return self._s.scalars(select(As2Message.body).where(As2Message.id == message_id)).one()

    def as2_mdn(self, message_id: int) -> bytes | None:
        """The exact MDN (headers, blank line, body) sent for or received about a message."""
        return self._s.scalars(select(As2Message.mdn).where(As2Message.id == message_id)).one()

    def update_as2_message(self, message_id: int, **values: Any) -> None:
        """Change columns of an AS2 message (``status``, ``mdn``, ``mdn_state``...);
        ``attempts_plus=1`` adds to the attempts."""
        step = values.pop("attempts_plus", 0)
        if step:
            values["attempts"] = As2Message.attempts + step
        values["updated_at"] = utcnow()
        self._s.execute(update(As2Message).where(As2Message.id == message_id).values(**values))

    def claim_due_mdns(self, now: datetime, lease_seconds: float, limit: int = 20) -> list[
        As2MessageRecord
    ]:  # fmt: skip
        """Asynchronous MDNs we owe whose next try is due, each taken by moving its next try
        ``lease_seconds`` ahead with a conditional UPDATE: two processes never post the same
        MDN at the same time, and a process that dies leaves it due again after the lease."""
        ids = self._s.scalars(
            select(As2Message.id)
            .where(As2Message.mdn_state == "pending", As2Message.next_attempt_at <= now)
            .order_by(As2Message.next_attempt_at).limit(limit)
        ).all()  # fmt: skip
        taken = []
        for message_id in ids:
            result = self._s.execute(
                update(As2Message)
                .where(As2Message.id == message_id, As2Message.mdn_state == "pending",
                       As2Message.next_attempt_at <= now)
                .values(next_attempt_at=now + timedelta(seconds=lease_seconds),
                        attempts=As2Message.attempts + 1, updated_at=utcnow())
            )  # fmt: skip
            if result.rowcount == 1:  # type: ignore[attr-defined]
                taken.append(self.as2_message(message_id))
        return taken

    # -- alerts ----------------------------------------------------------------------------

    def raise_alert(
        self, *, key: str, kind: str, subject: str, detail: str | None = None,
        partner: str | None = None, exchange_id: int | None = None,
    ) -> bool:  # fmt: skip
        """Open an alert for the condition ``key``; False when one is already open for it
        (one alert per condition until it clears)."""
        row = Alert(key=key, open_key=key, kind=kind, partner=partner, subject=subject[:300],
                    detail=detail, exchange_id=exchange_id, raised_at=utcnow())  # fmt: skip
        return self._insert(row)

    def clear_alert(self, key: str) -> bool:
        """Close the open alert of ``key``; False when none was open."""
        result = self._s.execute(
            update(Alert).where(Alert.open_key == key).values(open_key=None, cleared_at=utcnow())
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def supersede_alert(self, key: str) -> bool:
        """Close the open alert of ``key`` because a graver one of the same thing takes its
        place (an 855 now late rather than due soon; a certificate now within 14 days rather
        than 30): it owes no recovery notice, since nothing recovered. Its own notice, if not
        sent yet, is still owed. False when none was open."""
        now = utcnow()
        result = self._s.execute(
            update(Alert).where(Alert.open_key == key)
            .values(open_key=None, cleared_at=now, recovery_notified_at=now)
        )  # fmt: skip
        return result.rowcount == 1  # type: ignore[attr-defined]

    def alerts_to_notify(self) -> list[AlertRecord]:
        """Alerts whose raising, or whose clearing, has not been notified yet."""
        rows = self._s.scalars(
            select(Alert).where(
                (Alert.notified_at.is_(None))
                | (Alert.cleared_at.is_not(None) & Alert.recovery_notified_at.is_(None))
            ).order_by(Alert.id)
        )  # fmt: skip
        return [_alert(row) for row in rows]

    def mark_alert_notified(self, alert_id: int, *, recovery: bool) -> None:
        """Record that an alert (``recovery``: its clearing) was notified."""
        column = "recovery_notified_at" if recovery else "notified_at"
        self._s.execute(update(Alert).where(Alert.id == alert_id).values({column: utcnow()}))

    def alerts(self, *, open_only: bool = False, kind: str | None = None) -> list[AlertRecord]:
        """Alerts, oldest first (only the open ones; of one kind)."""
        query = select(Alert).order_by(Alert.id)
        if open_only:
            query = query.where(Alert.open_key.is_not(None))
        if kind:
            query = query.where(Alert.kind == kind)
        return [_alert(row) for row in self._s.scalars(query)]


class Store:
    """The database: engine, migrations and transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: Called after each commit with (exchange id, partner, direction, kind, detail).
        self.on_event: Callable[[int, str | None, str | None, str, dict[str, Any]], None] | None
        self.on_event = None
        register_secret(self.engine.url.password)  # never in a log line (G6)
        self._head: str | None = None

    def upgrade(self) -> None:
        """Apply every Alembic migration not yet applied (``acorn db upgrade``)."""
        # Imported here: Alembic costs almost half a second to import, and every `acorn`
        # command that opens the store would pay it even when the schema is current.
        from alembic import command
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            # Alembic keeps its running context in module globals: two upgrades at once in
            # one process (the sandbox's Amazon beside a gateway) would trample each other.
            with _UPGRADES, self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise StoreError(f"cannot migrate {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        """The URL without its password, fit for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Repository]:
        """One database transaction: committed when the block ends, rolled back on error.
        After the commit, each event it recorded goes to ``on_event`` (the log): only
        what really happened is logged."""
        with self._sessions() as session:
            with session.begin():
                repository = Repository(session)
                yield repository
            if self.on_event is not None and repository.recorded:
                ids = {exchange_id for exchange_id, _, _ in repository.recorded}
                owners = dict(session.execute(
                    select(Exchange.id, Exchange.partner + "|" + Exchange.direction)
                    .where(Exchange.id.in_(ids))
                ).all())  # fmt: skip
                for exchange_id, kind, detail in repository.recorded:
                    partner, _, direction = owners.get(exchange_id, "|").partition("|")
                    self.on_event(exchange_id, partner or None, direction or None, kind, detail)

    def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except OperationalError as exc:
            raise StoreError(f"{self.safe_url}: {exc.orig}") from None

    def schema_is_current(self) -> bool:
        """Whether every migration has been applied (``/readyz``)."""
        from alembic.config import Config as AlembicConfig
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        if self._head is None:  # the scripts do not change while the process runs
            config = AlembicConfig()
            config.set_main_option("script_location", str(MIGRATIONS))
            self._head = ScriptDirectory.from_config(config).get_current_head()
        head = self._head
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current == head

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, FULL sync so a commit survives a power loss
    (reliability.md storage rules), foreign keys on, and waiting rather than failing when
    another process writes. The driver's own transaction handling is switched off
    (``isolation_level = None``): it begins a transaction only at the first write, which
    lets a read-then-write lose an update and breaks SAVEPOINTs; ``_sqlite_begin`` begins
    every transaction itself."""
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """BEGIN IMMEDIATE: every transaction takes SQLite's single write lock at its start, so
    transactions of several processes run one after the other and never lose an update
    (SQLAlchemy's documented recipe for pysqlite)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
