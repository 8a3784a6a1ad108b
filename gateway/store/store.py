"""The store: the database behind every promise, and the only importer of SQLAlchemy.

``Store(url)`` opens SQLite (the embedded default: WAL, ``synchronous=FULL``, a busy
timeout) or PostgreSQL; ``upgrade()`` applies the Alembic migrations; ``transaction()``
yields a :class:`Repository` whose every change commits together or not at all. The
pipeline never sees SQLAlchemy: it gets plain records back.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

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
#: How many values one ``IN (...)`` lists at most (far below SQLite's and PostgreSQL's
#: limits on bound parameters).
_IN_CHUNK = 500
#: ``INSERT ... ON CONFLICT DO NOTHING RETURNING ...`` per (dialect, table, columns
#: returned): built once, reused.
_INSERTS_SKIPPING_DUPLICATES: dict[tuple[str, str, tuple[str, ...]], Insert] = {}


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
class NewTransaction:
    """A transaction set to record with :meth:`Repository.add_transactions`."""

    set_id: str
    control_number: str
    status: str
    business_key: str | None = None
    findings: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class NewDocument:
    """An ERP document to record with :meth:`Repository.add_documents`; ``at`` is when it
    was created (the pipeline's clock; default now)."""

    type: str
    partner: str
    business_key: str
    po_number: str | None
    body: str
    exchange_id: int
    state: str
    transaction_id: int | None = None
    delivery_name: str | None = None
    po_state: str | None = None
    at: datetime | None = None


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


#: The columns of an :class:`ExchangeRecord`, in its order (the payload is not one).
_EXCHANGE_COLUMNS = [
    Exchange.__table__.c[name]
    for name in ("id", "channel", "direction", "kind", "partner", "transport", "reference",
                 "file_name", "sha256", "size", "state", "reason", "business_key", "attempts",
                 "parent_id", "created_at")
]  # fmt: skip


# -- statements of the hot path --------------------------------------------------------------
# Built once with bound parameters: building a statement and its cache key costs several
# times more than executing it (SQLAlchemy's compiled form is cached either way). Those
# that vary with their arguments are built once per variant.

_EXCHANGES: Table = Exchange.__table__  # type: ignore[assignment]
_INTERCHANGES: Table = InterchangeRow.__table__  # type: ignore[assignment]
_GROUPS: Table = GroupRow.__table__  # type: ignore[assignment]
_TRANSACTIONS: Table = TransactionRow.__table__  # type: ignore[assignment]
_DOCUMENTS: Table = DocumentRow.__table__  # type: ignore[assignment]
_RESERVATIONS: Table = Reservation.__table__  # type: ignore[assignment]
_EVENTS: Table = Event.__table__  # type: ignore[assignment]
_COUNTERS: Table = Counter.__table__  # type: ignore[assignment]
_AS2_MESSAGES: Table = As2Message.__table__  # type: ignore[assignment]
_ALERTS: Table = Alert.__table__  # type: ignore[assignment]

_PAYLOAD = select(_EXCHANGES.c.payload).where(_EXCHANGES.c.id == bindparam("exchange_id"))
_TAKE_LEASE = (
    update(_EXCHANGES)
    .where(_EXCHANGES.c.id == bindparam("exchange_id"),
           _EXCHANGES.c.state.in_(bindparam("states", expanding=True)),
           _EXCHANGES.c.lease_owner.is_(None)
           | (_EXCHANGES.c.lease_expires_at < bindparam("now", type_=DateTime()))
           | (_EXCHANGES.c.lease_owner == bindparam("owner")))
    .values(lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("expires", type_=DateTime()),
            attempts=_EXCHANGES.c.attempts + 1, updated_at=bindparam("now", type_=DateTime()))
    .returning(*_EXCHANGE_COLUMNS)
)  # fmt: skip
_EVENT_COLUMNS = ("exchange_id", "at", "kind", "detail")
_ADD_GROUP = insert(_GROUPS).returning(_GROUPS.c.id)
_ADD_TRANSACTIONS = insert(_TRANSACTIONS).returning(_TRANSACTIONS.c.id,
                                                    sort_by_parameter_order=True)  # fmt: skip
_TRANSACTION_COLUMNS = ("id", "group_id", "set_id", "control_number", "business_key",
                        "status", "findings")  # fmt: skip
_LAST_TRANSACTION_ID = select(func.coalesce(func.max(_TRANSACTIONS.c.id), 0))
_DOCUMENT_COLUMNS = ("id", "type", "partner", "business_key", "po_number", "body",
                     "exchange_id", "state", "transaction_id", "delivery_name", "po_state",
                     "created_at")  # fmt: skip
_LAST_DOCUMENT_ID = select(func.coalesce(func.max(_DOCUMENTS.c.id), 0))
_DOCUMENTS_BETWEEN = select(_DOCUMENTS.c.id).where(
    _DOCUMENTS.c.id.between(bindparam("first"), bindparam("last"))
)
#: The text of the INSERTs :meth:`Repository._insert_rows` sends, per dialect and shape.
_ROW_INSERTS: dict[tuple[str, str, tuple[str, ...], bool], str] = {}
#: Per dialect, how a datetime is bound (SQLite: SQLAlchemy's text form; None: as it is).
_DATETIME_BINDS: dict[str, Callable[[Any], Any] | None] = {}
_NEXT_CONTROL_NUMBER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.partner == bindparam("counter_partner"),
           _COUNTERS.c.name == bindparam("counter_name"))
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.name, _COUNTERS.c.value)
)  # fmt: skip
_EXISTING_PO_NUMBERS = select(_DOCUMENTS.c.po_number).distinct().where(
    _DOCUMENTS.c.type == bindparam("document_type"),
    _DOCUMENTS.c.partner == bindparam("document_partner"),
    _DOCUMENTS.c.po_number.in_(bindparam("po_numbers", expanding=True)),
)  # fmt: skip
_CLEAR_ALERT = (
    update(_ALERTS).where(_ALERTS.c.open_key == bindparam("alert_key"))
    .values(open_key=None, cleared_at=bindparam("now", type_=DateTime()))
)  # fmt: skip


@functools.cache
def _set_state_statement(reason: bool, release: bool, fenced: bool, expected: bool) -> Any:
    """The UPDATE of :meth:`Repository.set_state` for one combination of its arguments."""
    values: dict[str, Any] = {"state": bindparam("new_state"),
                              "updated_at": bindparam("now", type_=DateTime())}  # fmt: skip
    if reason:
        values["reason"] = bindparam("new_reason")
    if release:
        values.update(lease_owner=None, lease_expires_at=None)
    statement = update(_EXCHANGES).where(_EXCHANGES.c.id == bindparam("exchange_id"))
    if fenced:
        statement = statement.where(_EXCHANGES.c.lease_owner == bindparam("owner"))
    if expected:
        statement = statement.where(_EXCHANGES.c.state.in_(bindparam("expected", expanding=True)))
    return statement.values(values)


def _exchange(row: Any) -> ExchangeRecord:
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
        self._dialect = session.get_bind().dialect.name
        #: The events recorded in this transaction (exchange id, kind, detail).
        self.recorded: list[tuple[int, str, dict[str, Any]]] = []

    @contextmanager
    def savepoint(self) -> Iterator[Repository]:
        """A part of this transaction that can fail alone: when the block raises, what it
        wrote (and the events it recorded for the log) is rolled back to the SAVEPOINT and
        the exception goes on; the rest of the transaction stays. Lets one transaction
        carry the work of several inputs, each all or nothing (group commit).

        A value the database refuses (``DataError``: a NUL character in a text column,
        which PostgreSQL never stores while SQLite does, T4) is raised as
        :class:`StoreError`, so the caller can quarantine that one input instead of failing
        the whole pass on it, pass after pass."""
        recorded = len(self.recorded)
        try:
            with self._s.begin_nested():
                yield self
        except DataError as exc:
            del self.recorded[recorded:]
            raise StoreError(f"the database refused a value: {exc.orig}") from exc
        except BaseException:
            del self.recorded[recorded:]
            raise

    def _insert_skipping_duplicates(self, table: Table, *returning: Column[Any]) -> Insert:
        """``INSERT INTO table ... ON CONFLICT DO NOTHING RETURNING returning`` (SQLite and
        PostgreSQL alike): a row that would break a UNIQUE constraint is left out and nothing
        else changes; the database decides, so two writers racing for one key never both
        win (reliability.md G2). Any other failure (a foreign key, a NOT NULL) raises."""
        key = (self._dialect, table.name, tuple(column.name for column in returning))
        statement = _INSERTS_SKIPPING_DUPLICATES.get(key)
        if statement is None:
            dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            statement = dialect_insert(table).on_conflict_do_nothing().returning(*returning)
            _INSERTS_SKIPPING_DUPLICATES[key] = statement
        return statement

    def _insert_unique(self, table: Table, values: dict[str, Any]) -> Any:
        """Insert one row unless a UNIQUE constraint refuses it: its primary key (the first
        primary-key column), or None when the constraint kept it out."""
        key = next(iter(table.primary_key.columns))
        return self._s.execute(self._insert_skipping_duplicates(table, key), values).scalar()

    def _insert_rows(
        self, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
        *, skip_duplicates: bool = False,
    ) -> None:  # fmt: skip
        """Insert many rows of plain values (text, numbers, None, and datetimes already
        through :meth:`_bind_datetime`) with one executemany of the driver, skipping those a
        UNIQUE constraint refuses when ``skip_duplicates``. The statement's text is made once
        per dialect and shape, and no parameter processing runs per row: for the dozens of
        rows of every inbound interchange (its sets, purchase orders and events) that
        processing cost as much as the database's own work (issue 10). Values are always
        bound, never written into the text."""
        key = (self._dialect, table.name, columns, skip_duplicates)
        sql = _ROW_INSERTS.get(key)
        if sql is None:
            mark = "?" if self._dialect == "sqlite" else "%s"
            sql = (f"INSERT INTO {table.name} ({', '.join(columns)})"
                   f" VALUES ({', '.join([mark] * len(columns))})"
                   + (" ON CONFLICT DO NOTHING" if skip_duplicates else ""))  # fmt: skip
            _ROW_INSERTS[key] = sql
        self._s.connection().exec_driver_sql(sql, rows)  # type: ignore[arg-type]

    def _bind_datetime(self, value: datetime) -> Any:
        """``value`` as SQLAlchemy binds a DateTime column on this dialect (on SQLite the
        text it stores and compares), for :meth:`_insert_rows`."""
        try:
            bind = _DATETIME_BINDS[self._dialect]
        except KeyError:
            dialect = self._s.get_bind().dialect
            bind = _DATETIME_BINDS[self._dialect] = (
                DateTime().dialect_impl(dialect).bind_processor(dialect)
            )
        return value if bind is None else bind(value)

    def _expire(self, entity: type[Any], ids: Collection[int] | None = None) -> None:
        """Forget what this transaction loaded of the rows of ``entity`` (those with ``ids``,
        or all) that a statement without the ORM just changed, so that a later read returns
        them as they are now, as an ORM UPDATE would have kept them."""
        if not self._s.identity_map:  # the usual case: records were made, objects dropped
            return
        for loaded in list(self._s.identity_map.values()):
            if isinstance(loaded, entity) and (ids is None or loaded.id in ids):
                self._s.expire(loaded)

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
        return self._insert_unique(_EXCHANGES, dict(
            channel=channel, direction=direction, kind=kind, partner=partner,
            transport=transport, reference=reference, file_name=file_name, sha256=sha256,
            size=len(payload), payload=payload, state=state, business_key=business_key,
            parent_id=parent_id, attempts=0, created_at=now, updated_at=now,
        ))  # fmt: skip

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
        return self._s.execute(_PAYLOAD, {"exchange_id": exchange_id}).scalar_one()

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
        expires = now + timedelta(seconds=lease_seconds)
        for exchange_id in self._s.scalars(query).all():
            row = self._s.execute(_TAKE_LEASE, {
                "exchange_id": exchange_id, "states": list(states), "owner": owner,
                "now": now, "expires": expires,
            }).first()  # fmt: skip
            if row is not None:
                claimed.append(_exchange(row))
        self._expire(Exchange, [exchange.id for exchange in claimed])
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
        statement = _set_state_statement(
            reason is not None, release, owner is not None, expected is not None
        )
        result = self._s.execute(statement, {
            "exchange_id": exchange_id, "new_state": state, "now": utcnow(),
            "new_reason": reason, "owner": owner,
            "expected": list(expected) if expected is not None else None,
        })  # fmt: skip
        if (owner is not None or expected is not None) and result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"exchange {exchange_id} is no longer ours to move to {state}")
        self._expire(Exchange, [exchange_id])

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
        self.add_events([(exchange_id, kind, detail)])

    def add_events(self, events: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
        """Add facts (exchange id, kind, detail) to timelines with one statement, in this
        order (a timeline lists its events in the order they were added), all at the same
        instant; each is logged once the transaction commits, as :meth:`event`'s are."""
        if not events:
            return
        at = self._bind_datetime(utcnow())
        self._insert_rows(_EVENTS, _EVENT_COLUMNS, [
            (exchange_id, at, kind, json.dumps(detail, default=str) if detail else None)
            for exchange_id, kind, detail in events
        ])  # fmt: skip
        self.recorded.extend(events)

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
        return self._insert_unique(_INTERCHANGES, dict(
            exchange_id=exchange_id, direction=direction, sender=sender, receiver=receiver,
            control_number=control_number, version=version, usage=usage, status=status,
        ))  # fmt: skip

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
        return self._s.execute(_ADD_GROUP, dict(
            interchange_id=interchange_id, functional_id=functional_id,
            control_number=control_number, version=version, status=status,
            ack_status=ack_status, ack_due_at=ack_due_at,
        )).scalar_one()  # fmt: skip

    def add_transaction(
        self, *, group_id: int, set_id: str, control_number: str, status: str,
        business_key: str | None = None, findings: list[dict[str, Any]] | None = None,
    ) -> int:  # fmt: skip
        """Record a transaction set with its validation status and findings."""
        (transaction_id,) = self.add_transactions(group_id, [NewTransaction(
            set_id, control_number, status, business_key=business_key, findings=findings,
        )])  # fmt: skip
        return transaction_id

    def add_transactions(self, group_id: int, sets: Sequence[NewTransaction]) -> list[int]:
        """Record the transaction sets of a group, each with its validation status, business
        key and findings, with one INSERT; returns their row ids in the order of ``sets``."""
        if not sets:
            return []
        rows = [
            {"group_id": group_id, "set_id": s.set_id, "control_number": s.control_number,
             "status": s.status, "business_key": s.business_key,
             "findings": json.dumps(s.findings, default=str) if s.findings else None}
            for s in sets
        ]  # fmt: skip
        if self._dialect != "sqlite" or len(rows) == 1:
            return list(self._s.execute(_ADD_TRANSACTIONS, rows).scalars())
        # SQLite gives the rows of a multi-row RETURNING in no stated order, so SQLAlchemy
        # would insert them one at a time to tell the ids apart. Every SQLite transaction of
        # the store holds the database's one write lock from its start (BEGIN IMMEDIATE,
        # see _sqlite_begin): the ids after the largest are this transaction's to give.
        first = self._s.execute(_LAST_TRANSACTION_ID).scalar_one() + 1
        ids = list(range(first, first + len(rows)))
        self._insert_rows(_TRANSACTIONS, _TRANSACTION_COLUMNS, [
            (transaction_id, *(row[column] for column in _TRANSACTION_COLUMNS[1:]))
            for transaction_id, row in zip(ids, rows, strict=True)
        ])  # fmt: skip
        return ids

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

    def next_control_number(self, partner: str, name: str) -> int:
        """The next value of a partner's counter (``isa13``, ``gs06``), allocated in this
        transaction: a rollback gives it back, a commit uses it for ever. One atomic
        ``UPDATE ... RETURNING``, so two writers can never read the same value."""
        return self.next_control_numbers(partner, (name,))[0]

    def next_control_numbers(self, partner: str, names: Sequence[str]) -> list[int]:
        """The next value of each of a partner's counters ``names`` (distinct; e.g. ISA13
        and GS06 of one outbound interchange), in the order of ``names``, allocated as
        :meth:`next_control_number` allocates one, one ``UPDATE ... RETURNING`` per counter
        (a counter used for the first time is created at 1).

        The rows are updated, and so locked until the commit, in the order of their names,
        whatever the order of ``names``: every writer takes the locks in the same order, so
        two gateways allocating at once on PostgreSQL wait for each other instead of
        deadlocking (one ``UPDATE ... WHERE name IN (...)`` locked the rows in the order it
        found them, which differs between transactions: T13 found the deadlock)."""

        def increment(which: Sequence[str]) -> dict[str, int]:
            values: dict[str, int] = {}
            for name in sorted(which):
                row = self._s.execute(_NEXT_CONTROL_NUMBER, {"counter_partner": partner,
                                                             "counter_name": name}).first()
                if row is not None:
                    values[row[0]] = row[1]
            return values

        values = increment(names)
        for name in sorted(names):
            if name in values:
                continue
            if self._insert_unique(_COUNTERS, {"partner": partner, "name": name, "value": 1}):
                values[name] = 1
            else:  # another writer created it at the same time: count on from its value
                values.update(increment([name]))
        for name in names:
            if values[name] > 999_999_999:
                raise StoreError(f"control number counter {name} of {partner} is exhausted")
        return [values[name] for name in names]

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
        return self.add_documents([NewDocument(
            type, partner, business_key, po_number, body, exchange_id, state,
            transaction_id=transaction_id, delivery_name=delivery_name, po_state=po_state,
            at=at,
        )])[0]  # fmt: skip

    def add_documents(self, documents: Sequence[NewDocument]) -> list[int | None]:
        """Record ERP documents, as many as possible with one INSERT; returns their row ids
        in the order of ``documents``, None for each whose transaction set already has a
        document (the UNIQUE constraint decides; the others are recorded all the same)."""
        now = utcnow()
        rows = [
            {"type": d.type, "partner": d.partner, "business_key": d.business_key,
             "po_number": d.po_number, "body": d.body, "exchange_id": d.exchange_id,
             "state": d.state, "transaction_id": d.transaction_id,
             "delivery_name": d.delivery_name, "po_state": d.po_state,
             "created_at": d.at or now}
            for d in documents
        ]  # fmt: skip
        if self._dialect == "sqlite" and len(rows) > 1:
            return self._add_documents_with_ids(rows)
        sets = [d.transaction_id for d in documents]
        if len(rows) > 1 and None not in sets and len(set(sets)) == len(sets):
            # The rows the constraint kept out return nothing: the transaction id (unique
            # here) tells which row each returned id belongs to.
            statement = self._insert_skipping_duplicates(
                _DOCUMENTS, _DOCUMENTS.c.transaction_id, _DOCUMENTS.c.id
            )
            ids = dict(self._s.execute(statement, rows).all())
            return [ids.get(transaction_id) for transaction_id in sets]
        return [self._insert_unique(_DOCUMENTS, row) for row in rows]

    def _add_documents_with_ids(self, rows: list[dict[str, Any]]) -> list[int | None]:
        """SQLite: :meth:`add_documents` with the row ids given, as for sets (see
        :meth:`add_transactions`: the transaction holds the write lock, so the ids after the
        largest are its own), in one executemany; a row the UNIQUE constraint keeps out
        leaves its id unused, and one question afterwards tells which ids were taken."""
        first = self._s.execute(_LAST_DOCUMENT_ID).scalar_one() + 1
        last = first + len(rows) - 1
        self._insert_rows(_DOCUMENTS, _DOCUMENT_COLUMNS, [
            (document_id, *(row[column] for column in _DOCUMENT_COLUMNS[1:-1]),
             self._bind_datetime(row["created_at"]))
            for document_id, row in enumerate(rows, start=first)
        ], skip_duplicates=True)  # fmt: skip
        taken = set(self._s.scalars(_DOCUMENTS_BETWEEN, {"first": first, "last": last}))
        return [n if n in taken else None for n in range(first, last + 1)]

    def existing_po_numbers(
        self, *, type: str, partner: str, po_numbers: Collection[str]
    ) -> set[str]:
        """Which of ``po_numbers`` already have a document of ``type`` for ``partner`` (one
        query per 500 numbers)."""
        wanted = sorted(set(po_numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            found.update(self._s.execute(_EXISTING_PO_NUMBERS, {
                "document_type": type, "document_partner": partner,
                "po_numbers": wanted[start:start + _IN_CHUNK],
            }).scalars())  # fmt: skip
        return found

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
        return self._insert_unique(_RESERVATIONS, dict(
            kind=kind, partner=partner, value=value, document_id=document_id,
            expires_at=expires_at,
        )) is not None  # fmt: skip

    def purge_reservations(self, now: datetime) -> int:
        """Free the business keys whose window has passed; returns how many."""
        result = self._s.execute(
            delete(_RESERVATIONS).where(_RESERVATIONS.c.expires_at.is_not(None),
                                        _RESERVATIONS.c.expires_at < now)
        )  # fmt: skip
        return int(result.rowcount)  # type: ignore[attr-defined]

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
        self.add_events([(exchange_id, "evidence_purged", {}) for exchange_id in ids])
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
        return self._insert_unique(_AS2_MESSAGES, dict(
            direction=direction, partner=partner, message_id=message_id, as2_from=as2_from,
            as2_to=as2_to, dedupe_key=dedupe_key, exchange_id=exchange_id, status=status,
            reason=reason, headers=json.dumps(headers), body=body, body_sha256=body_sha256,
            mic=mic, disposition=disposition, certificate=certificate, mdn_mode=mdn_mode,
            mdn=mdn, mdn_url=mdn_url, mdn_state=mdn_state, attempts=0,
            next_attempt_at=next_attempt_at, created_at=now, updated_at=now,
        ))  # fmt: skip

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
        return self._insert_unique(_ALERTS, dict(
            key=key, open_key=key, kind=kind, partner=partner, subject=subject[:300],
            detail=detail, exchange_id=exchange_id, raised_at=utcnow(),
        )) is not None  # fmt: skip

    def clear_alert(self, key: str) -> bool:
        """Close the open alert of ``key``; False when none was open."""
        result = self._s.execute(_CLEAR_ALERT, {"alert_key": key, "now": utcnow()})
        self._expire(Alert)
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
                # Read within the transaction, logged after its commit: a read after the
                # commit would begin another transaction (on SQLite, BEGIN IMMEDIATE: the
                # write lock) and hold it while the log is written, which can block (a full
                # pipe), stalling every other writer.
                owners: dict[int, str] = {}
                if self.on_event is not None and repository.recorded:
                    ids = {exchange_id for exchange_id, _, _ in repository.recorded}
                    owners = dict(session.execute(
                        select(Exchange.id, Exchange.partner + "|" + Exchange.direction)
                        .where(Exchange.id.in_(ids))
                    ).all())  # fmt: skip
            if self.on_event is not None and repository.recorded:
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
