"""The tables: every exchange, its envelopes, the ERP documents, events and counters.

Duplicates are made impossible by UNIQUE constraints, not checked and then inserted
(reliability.md G2): an inbound file by partner + name + sha256, an interchange by
direction + sender + receiver + ISA13 (among the rows a reprocess has not superseded), an
ERP delivery by its transaction set, a reserved business key (invoice number forever;
shipment id and SSCC for 365 days, until purged) by kind + partner + value, and control
numbers come from per-partner counters updated in the same transaction that records the
interchange using them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The declarative base of every table."""


class Exchange(Base):
    """One file or message crossing a boundary, with its raw bytes.

    ``channel`` is ``partner`` (X12 to or from a trading partner) or ``erp`` (an export the
    ERP dropped); ``direction`` is ``in`` or ``out`` as seen from the gateway. ``state``
    walks a small machine per kind (see ``gateway.store.states``); ``lease_owner`` /
    ``lease_expires_at`` let one process at a time work on a row.
    """

    __tablename__ = "exchanges"
    __table_args__ = (
        UniqueConstraint(
            "channel", "direction", "partner", "file_name", "sha256", name="uq_exchange_file"
        ),
        Index("ix_exchange_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    partner: Mapped[str] = mapped_column(String(32))
    transport: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(512))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    # Deferred: the bytes are read only when asked for (Repository.payload), not with
    # every listing of exchanges.
    payload: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    business_key: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id"))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime())
    created_at: Mapped[datetime] = mapped_column(DateTime())
    updated_at: Mapped[datetime] = mapped_column(DateTime())


class InterchangeRow(Base):
    """An interchange (ISA..IEA) read from or written into an exchange.

    ``superseded_by`` is set on the rows of an inbound exchange an operator had processed
    again (``acorn tx reprocess``): the exchange that processes the interchange anew. The
    rows stay as the evidence of the earlier attempt, but no longer count for the
    uniqueness of the ISA13: the UNIQUE index covers only the rows not superseded, so one
    interchange is held by at most one live exchange (gateway.pipeline.operator).
    """

    __tablename__ = "interchanges"
    __table_args__ = (
        Index(
            "uq_interchange_control_number",
            "direction", "sender", "receiver", "control_number",
            unique=True,
            sqlite_where=text("superseded_by IS NULL"),
            postgresql_where=text("superseded_by IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    sender: Mapped[str] = mapped_column(String(20))
    receiver: Mapped[str] = mapped_column(String(20))
    control_number: Mapped[str] = mapped_column(String(9))
    version: Mapped[str] = mapped_column(String(5))
    usage: Mapped[str] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(24))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id"))


class GroupRow(Base):
    """A functional group; for outbound ones, the 997 that acknowledged it."""

    __tablename__ = "groups"
    __table_args__ = (Index("ix_group_ack", "functional_id", "control_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("interchanges.id"), index=True)
    functional_id: Mapped[str] = mapped_column(String(2))
    control_number: Mapped[str] = mapped_column(String(9))
    version: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(24))
    ack_status: Mapped[str | None] = mapped_column(String(24))
    ack_exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id"))
    ack_due_at: Mapped[datetime | None] = mapped_column(DateTime())
    acked_at: Mapped[datetime | None] = mapped_column(DateTime())


class TransactionRow(Base):
    """A transaction set: control number, business key, validation outcome, 997 outcome."""

    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    set_id: Mapped[str] = mapped_column(String(3))
    control_number: Mapped[str] = mapped_column(String(9))
    business_key: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24))
    findings: Mapped[str | None] = mapped_column(Text)
    ack_status: Mapped[str | None] = mapped_column(String(24))


class DocumentRow(Base):
    """An ERP document: a purchase order read from an 850 (to deliver to the ERP inbox,
    exactly once) or an export rendered to X12. ``po_number`` links the chain
    PO -> 855 -> 856 -> 810 of one partner."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("transaction_id", name="uq_document_transaction"),
        Index("ix_document_po", "partner", "po_number"),
        # The export of an 855/856/810 finds its PO by number alone (which partner it is for
        # is what the PO tells): without this index, a scan of every document.
        Index("ix_document_po_number", "po_number"),
        Index("ix_document_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(24))
    partner: Mapped[str] = mapped_column(String(32))
    business_key: Mapped[str] = mapped_column(String(64))
    po_number: Mapped[str | None] = mapped_column(String(22))
    body: Mapped[str] = mapped_column(Text)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    delivery_name: Mapped[str | None] = mapped_column(String(255))
    po_state: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime())


class Reservation(Base):
    """A business key that may be used once: invoice numbers forever, shipment ids and
    SSCCs until ``expires_at`` (365 days; the purge job frees them)."""

    __tablename__ = "reservations"
    __table_args__ = (UniqueConstraint("kind", "partner", "value", name="uq_reservation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    partner: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime())


class Event(Base):
    """One fact on an exchange's timeline (``interchange_received``, ``ack_queued``...)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime())
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)


class Counter(Base):
    """A control-number counter of one partner: ``isa13`` or ``gs06``."""

    __tablename__ = "counters"

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class As2Message(Base):
    """One AS2 message (RFC 4130), received or sent, with its evidence (reliability.md G5).

    Inbound: the raw HTTP body and headers as received, the MIC we computed, the
    disposition and the exact MDN we answered with (``mdn``); ``status`` is ``processed``
    (payload stored as ``exchange_id``), ``failed`` (an error MDN went back) or
    ``refused`` (HTTP 400/403/413, no MDN; an audit row of bounded size). Outbound: the
    exact message we post (every retry posts these bytes under the same Message-ID), the MIC
    we expect back, and the partner's MDN once it arrives.

    ``dedupe_key`` (a hash of direction, AS2-From, AS2-To and Message-ID) is set only on a
    message that succeeded (inbound) or was built (outbound): UNIQUE, so the same Message-ID
    is processed once however many times it is posted at once, while a failed message never
    blocks a good resend (reliability.md 1.3, django-pyas2#33). An asynchronous MDN we owe
    (``mdn_url``) is retried with backoff: ``mdn_state`` ``pending`` until ``delivered``.
    """

    __tablename__ = "as2_messages"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_as2_message"),
        Index("ix_as2_message_id", "message_id"),
        Index("ix_as2_mdn_state", "mdn_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3))
    partner: Mapped[str | None] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(1000))
    as2_from: Mapped[str] = mapped_column(String(130))
    as2_to: Mapped[str] = mapped_column(String(130))
    dedupe_key: Mapped[str | None] = mapped_column(String(64))
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    mic: Mapped[str | None] = mapped_column(String(200))
    disposition: Mapped[str | None] = mapped_column(String(300))
    certificate: Mapped[str | None] = mapped_column(String(100))
    mdn_mode: Mapped[str] = mapped_column(String(8))
    mdn: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    mdn_url: Mapped[str | None] = mapped_column(String(1000))
    mdn_state: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime())
    created_at: Mapped[datetime] = mapped_column(DateTime())
    updated_at: Mapped[datetime] = mapped_column(DateTime())


class Alert(Base):
    """A condition an operator must know about (a rejected document, an overdue 997, a send
    that failed, a certificate near its end...). ``open_key`` holds ``key`` while the alert
    is open and NULL once it clears: UNIQUE, so one condition raises one alert until it
    clears, however many processes notice it."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("open_key", name="uq_alert_open"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    open_key: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    partner: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id"))
    raised_at: Mapped[datetime] = mapped_column(DateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime())
    notified_at: Mapped[datetime | None] = mapped_column(DateTime())
    recovery_notified_at: Mapped[datetime | None] = mapped_column(DateTime())
