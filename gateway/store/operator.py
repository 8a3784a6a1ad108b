"""The queries behind the operator's commands and pages: listing and searching exchanges,
one exchange with everything linked to it, a purchase order's chain — and the few
conditional writes of the operator's actions (re-queue a failed send, supersede the
envelope rows of an exchange processed again)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from gateway.erp import SET_OF_DOCUMENT
from gateway.store.tables import (
    As2Message,
    DocumentRow,
    Exchange,
    GroupRow,
    InterchangeRow,
    TransactionRow,
)

DOCUMENT_OF_SET = {set_id: type_ for type_, set_id in SET_OF_DOCUMENT.items()}
#: ``po_state`` of a purchase order whose 855 is not rendered yet (see gateway.pipeline.reconcile).
WAITING_FOR_ACKNOWLEDGMENT = ("open", "due", "late")


@dataclass(frozen=True)
class ExchangeFilter:
    """What ``acorn tx list`` (and ``tx reprocess --filter``) selects; every field given
    must match. ``set_id`` is an X12 set of the exchange's transactions, or the set of the
    ERP document an export carries; ``po_number``, ``invoice`` and ``shipment`` match the
    exchange's documents, those of the exchange it was made from (an export, the 850 a
    997 answers) and the business keys of its transaction sets. ``until`` is an exclusive
    upper bound of ``created_at``; ``text`` (the dashboard's free search) matches a PO,
    invoice or shipment number as those three do, or a part of the file name (any case)."""

    partner: str | None = None
    set_id: str | None = None
    states: tuple[str, ...] = ()
    direction: str | None = None
    channel: str | None = None
    since: datetime | None = None
    po_number: str | None = None
    invoice: str | None = None
    shipment: str | None = None
    until: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class ExchangeSummary:
    """One line of the exchange list."""

    id: int
    created_at: datetime
    direction: str
    channel: str
    kind: str
    partner: str
    state: str
    file_name: str
    reason: str | None
    business_key: str | None
    parent_id: int | None
    size: int
    sets: dict[str, int] = field(default_factory=dict)
    po_numbers: tuple[str, ...] = ()
    invoices: tuple[str, ...] = ()
    shipments: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExchangeDetail:
    """Every column of an exchange but its bytes; ``stored_bytes`` is how many are still
    kept (0 with ``size`` > 0 once the retention job purged them)."""

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
    stored_bytes: int
    state: str
    reason: str | None
    business_key: str | None
    attempts: int
    parent_id: int | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TransactionNode:
    """A transaction set of an envelope tree, its findings decoded."""

    id: int
    set_id: str
    control_number: str
    business_key: str | None
    status: str
    ack_status: str | None
    findings: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class GroupNode:
    """A functional group of an envelope tree, with its 997 outcome (outbound groups)."""

    id: int
    functional_id: str
    control_number: str
    version: str
    status: str
    ack_status: str | None
    ack_exchange_id: int | None
    ack_due_at: datetime | None
    acked_at: datetime | None
    transactions: tuple[TransactionNode, ...]


@dataclass(frozen=True)
class InterchangeNode:
    """An interchange of an envelope tree; ``superseded_by`` names the exchange that
    processed it again."""

    id: int
    exchange_id: int
    direction: str
    sender: str
    receiver: str
    control_number: str
    version: str
    usage: str
    status: str
    superseded_by: int | None
    groups: tuple[GroupNode, ...]


@dataclass(frozen=True)
class AcknowledgedGroup:
    """An outbound group a partner's 997 (the exchange asked about) acknowledged."""

    exchange_id: int
    functional_id: str
    control_number: str
    ack_status: str | None


@dataclass(frozen=True)
class DocumentView:
    """An ERP document with its links and delivery time."""

    id: int
    type: str
    partner: str
    business_key: str
    po_number: str | None
    body: str
    transaction_id: int | None
    exchange_id: int
    state: str
    delivery_name: str | None
    po_state: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class TransactionPlace:
    """Where a transaction set sits: its envelope numbers, the exchange carrying it and
    the 997 outcome of its group."""

    transaction_id: int
    exchange_id: int
    direction: str
    isa13: str
    gs01: str
    gs06: str
    st01: str
    st02: str
    status: str
    ack_status: str | None
    group_ack_status: str | None
    ack_exchange_id: int | None
    ack_due_at: datetime | None
    acked_at: datetime | None
    superseded_by: int | None


def _document_view(row: DocumentRow) -> DocumentView:
    return DocumentView(
        row.id, row.type, row.partner, row.business_key, row.po_number, row.body,
        row.transaction_id, row.exchange_id, row.state, row.delivery_name, row.po_state,
        row.created_at, row.delivered_at,
    )  # fmt: skip


def _envelope_exists(condition: ColumnElement[bool], exchange: Any = Exchange.id) -> Any:
    """A set recorded in an envelope of ``exchange`` matches ``condition``."""
    return exists(
        select(TransactionRow.id)
        .join(GroupRow, TransactionRow.group_id == GroupRow.id)
        .join(InterchangeRow, GroupRow.interchange_id == InterchangeRow.id)
        .where(InterchangeRow.exchange_id == exchange, condition)
    )


def _document_exists(condition: ColumnElement[bool], exchange: Any = Exchange.id) -> Any:
    """A document made from (or for) ``exchange`` matches ``condition``."""
    return exists(select(DocumentRow.id).where(DocumentRow.exchange_id == exchange, condition))


def _acknowledged_documents() -> Select[Any]:
    """(997 exchange id, document) of every outbound group a partner's 997 acknowledged,
    with the document the group was rendered from."""
    sent = aliased(Exchange)
    return (
        select(GroupRow.ack_exchange_id, DocumentRow)
        .join(InterchangeRow, GroupRow.interchange_id == InterchangeRow.id)
        .join(sent, InterchangeRow.exchange_id == sent.id)
        .join(DocumentRow, DocumentRow.exchange_id == sent.parent_id)
    )


def _key_condition(
    documents: ColumnElement[bool], sets: Sequence[str], value: str
) -> ColumnElement[bool]:
    """A business key on the exchange's documents, on those of the exchange it was made
    from, on its transaction sets ``sets``, or on the documents whose interchange it
    acknowledged (a partner's 997)."""
    acknowledged = _acknowledged_documents().where(GroupRow.ack_exchange_id == Exchange.id,
                                                   documents)  # fmt: skip
    return or_(
        _document_exists(documents),
        _document_exists(documents, Exchange.parent_id),
        _envelope_exists(TransactionRow.set_id.in_(sets) & (TransactionRow.business_key == value)),
        exists(acknowledged),
    )


def _text_condition(text: str) -> ColumnElement[bool]:
    """The free search: a PO, invoice or shipment number (matched as their own filters
    match them), or a part of the file name, any case (LIKE wildcards taken literally)."""
    literal = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(
        func.lower(Exchange.file_name).like(f"%{literal}%", escape="\\"),
        _key_condition(DocumentRow.po_number == text, ("850", "855"), text),
        _key_condition(
            DocumentRow.type.in_(("invoice", "ship_notice")) & (DocumentRow.business_key == text),
            ("810", "856"), text),
    )  # fmt: skip


class OperatorQueries:
    """Read queries for operators, mixed into :class:`~gateway.store.store.Repository`
    (which provides the session ``_s``), and the conditional writes of their actions."""

    _s: Session

    # -- the exchange list -----------------------------------------------------------------

    def _filtered(self, query: Select[Any], where: ExchangeFilter) -> Select[Any]:
        if where.partner:
            by_document = _document_exists(DocumentRow.partner == where.partner)
            query = query.where(or_(Exchange.partner == where.partner, by_document))
        if where.set_id:
            condition = _envelope_exists(TransactionRow.set_id == where.set_id)
            if where.set_id in DOCUMENT_OF_SET:
                export = _document_exists(DocumentRow.type == DOCUMENT_OF_SET[where.set_id])
                condition = or_(condition, export & (Exchange.channel == "erp"))
            query = query.where(condition)
        if where.states:
            query = query.where(Exchange.state.in_(where.states))
        if where.direction:
            query = query.where(Exchange.direction == where.direction)
        if where.channel:
            query = query.where(Exchange.channel == where.channel)
        if where.since:
            query = query.where(Exchange.created_at >= where.since)
        if where.until:
            query = query.where(Exchange.created_at < where.until)
        if where.text:
            query = query.where(_text_condition(where.text))
        if where.po_number:
            query = query.where(_key_condition(DocumentRow.po_number == where.po_number,
                                               ("850", "855"), where.po_number))  # fmt: skip
        if where.invoice:
            query = query.where(_key_condition(
                (DocumentRow.type == "invoice") & (DocumentRow.business_key == where.invoice),
                ("810",), where.invoice))  # fmt: skip
        if where.shipment:
            query = query.where(_key_condition(
                (DocumentRow.type == "ship_notice") & (DocumentRow.business_key == where.shipment),
                ("856",), where.shipment))  # fmt: skip
        return query

    def count_exchanges(self, where: ExchangeFilter) -> int:
        """How many exchanges match ``where``."""
        return self._s.scalars(self._filtered(select(func.count(Exchange.id)), where)).one()

    def exchange_ids(self, where: ExchangeFilter) -> list[int]:
        """The ids of every exchange matching ``where``, oldest first."""
        return list(self._s.scalars(self._filtered(select(Exchange.id), where)
                                    .order_by(Exchange.id)))  # fmt: skip

    def list_exchanges(
        self, where: ExchangeFilter, *, limit: int = 50, offset: int = 0
    ) -> list[ExchangeSummary]:
        """One page of the exchanges matching ``where``, newest first, each with its sets
        (``{"850": 3}``) and the PO numbers, invoice numbers and shipment ids it carries."""
        query = self._filtered(select(Exchange), where)
        rows = list(self._s.scalars(
            query.order_by(Exchange.created_at.desc(), Exchange.id.desc())
            .limit(limit).offset(offset)
        ))  # fmt: skip
        ids = [row.id for row in rows]
        sets: dict[int, Counter[str]] = {i: Counter() for i in ids}
        keys: dict[int, dict[str, set[str]]] = {
            i: {"po": set(), "invoice": set(), "shipment": set()} for i in ids
        }
        for exchange_id, set_id, key in self._s.execute(
            select(InterchangeRow.exchange_id, TransactionRow.set_id, TransactionRow.business_key)
            .join(GroupRow, GroupRow.interchange_id == InterchangeRow.id)
            .join(TransactionRow, TransactionRow.group_id == GroupRow.id)
            .where(InterchangeRow.exchange_id.in_(ids))
        ):  # fmt: skip
            sets[exchange_id][set_id] += 1
            _add_key(keys[exchange_id], set_id, key)
        parents = {row.id: row.parent_id for row in rows}
        owners: dict[int, list[int]] = {}
        for child, parent in parents.items():
            owners.setdefault(child, []).append(child)
            if parent is not None:
                owners.setdefault(parent, []).append(child)
        exports = {row.id for row in rows if row.channel == "erp"}
        for document in self._s.scalars(
            select(DocumentRow).where(DocumentRow.exchange_id.in_(list(owners)))
        ):
            for exchange_id in owners[document.exchange_id]:
                if exchange_id == document.exchange_id and exchange_id in exports:
                    # An export's set is that of the document it carries.
                    sets[exchange_id][SET_OF_DOCUMENT.get(document.type, document.type)] += 1
                _add_document_keys(keys[exchange_id], document)
        for exchange_id, document in self._s.execute(
            _acknowledged_documents().where(GroupRow.ack_exchange_id.in_(ids))
        ):
            _add_document_keys(keys[exchange_id], document)
        return [
            ExchangeSummary(
                row.id, row.created_at, row.direction, row.channel, row.kind, row.partner,
                row.state, row.file_name, row.reason, row.business_key, row.parent_id,
                row.size, dict(sorted(sets[row.id].items())),
                tuple(sorted(keys[row.id]["po"])), tuple(sorted(keys[row.id]["invoice"])),
                tuple(sorted(keys[row.id]["shipment"])),
            )
            for row in rows
        ]

    # -- one exchange ----------------------------------------------------------------------

    def exchange_detail(self, exchange_id: int) -> ExchangeDetail | None:
        """Every column of one exchange but its bytes; None when there is no such id."""
        row = self._s.get(Exchange, exchange_id)
        if row is None:
            return None
        stored = self._s.scalars(
            select(func.length(Exchange.payload)).where(Exchange.id == exchange_id)
        ).one()
        return ExchangeDetail(
            row.id, row.channel, row.direction, row.kind, row.partner, row.transport,
            row.reference, row.file_name, row.sha256, row.size, int(stored or 0), row.state,
            row.reason, row.business_key, row.attempts, row.parent_id, row.lease_owner,
            row.lease_expires_at, row.created_at, row.updated_at,
        )  # fmt: skip

    def envelope_tree(self, exchange_id: int) -> list[InterchangeNode]:
        """The interchanges recorded for an exchange, each with its groups and sets."""
        interchanges = list(self._s.scalars(
            select(InterchangeRow).where(InterchangeRow.exchange_id == exchange_id)
            .order_by(InterchangeRow.id)
        ))  # fmt: skip
        groups = list(self._s.scalars(
            select(GroupRow).where(GroupRow.interchange_id.in_([i.id for i in interchanges]))
            .order_by(GroupRow.id)
        ))  # fmt: skip
        transactions = list(self._s.scalars(
            select(TransactionRow).where(TransactionRow.group_id.in_([g.id for g in groups]))
            .order_by(TransactionRow.id)
        ))  # fmt: skip

        def sets_of(group: GroupRow) -> tuple[TransactionNode, ...]:
            return tuple(
                TransactionNode(t.id, t.set_id, t.control_number, t.business_key, t.status,
                                t.ack_status, tuple(json.loads(t.findings or "[]")))
                for t in transactions if t.group_id == group.id
            )

        def groups_of(interchange: InterchangeRow) -> tuple[GroupNode, ...]:
            return tuple(
                GroupNode(g.id, g.functional_id, g.control_number, g.version, g.status,
                          g.ack_status, g.ack_exchange_id, g.ack_due_at, g.acked_at,
                          sets_of(g))
                for g in groups if g.interchange_id == interchange.id
            )

        return [
            InterchangeNode(i.id, i.exchange_id, i.direction, i.sender, i.receiver,
                            i.control_number, i.version, i.usage, i.status, i.superseded_by,
                            groups_of(i))
            for i in interchanges
        ]

    def groups_acknowledged_by(self, exchange_id: int) -> list[AcknowledgedGroup]:
        """The outbound groups whose 997 came in the exchange ``exchange_id``."""
        rows = self._s.execute(
            select(InterchangeRow.exchange_id, GroupRow.functional_id, GroupRow.control_number,
                   GroupRow.ack_status)
            .join(InterchangeRow, GroupRow.interchange_id == InterchangeRow.id)
            .where(GroupRow.ack_exchange_id == exchange_id).order_by(GroupRow.id)
        )  # fmt: skip
        return [AcknowledgedGroup(*row) for row in rows]

    def documents_of_exchange(self, exchange_id: int) -> list[DocumentView]:
        """The ERP documents read from or rendered for an exchange."""
        rows = self._s.scalars(
            select(DocumentRow).where(DocumentRow.exchange_id == exchange_id)
            .order_by(DocumentRow.id)
        )  # fmt: skip
        return [_document_view(row) for row in rows]

    def as2_message_ids(self, exchange_id: int) -> list[int]:
        """The AS2 messages (row ids, oldest first) that carried an exchange, either way."""
        return list(self._s.scalars(
            select(As2Message.id).where(As2Message.exchange_id == exchange_id)
            .order_by(As2Message.id)
        ))  # fmt: skip

    # -- a purchase order's chain ----------------------------------------------------------

    def po_documents(self, po_number: str, partner: str | None = None) -> list[DocumentView]:
        """Every document of one PO number (the POs, their 855s, 856s and 810s), oldest
        first."""
        query = select(DocumentRow).where(DocumentRow.po_number == po_number)
        if partner:
            query = query.where(DocumentRow.partner == partner)
        return [_document_view(row) for row in self._s.scalars(query.order_by(DocumentRow.id))]

    def _orders(self, partner: str | None, waiting: bool) -> Select[Any]:
        query = select(DocumentRow).where(DocumentRow.type == "purchase_order")
        if partner:
            query = query.where(DocumentRow.partner == partner)
        if waiting:
            query = query.where(DocumentRow.po_state.in_(WAITING_FOR_ACKNOWLEDGMENT))
        return query

    def purchase_orders(
        self, *, waiting: bool = False, partner: str | None = None, limit: int | None = None,
        offset: int = 0,
    ) -> list[DocumentView]:  # fmt: skip
        """Purchase orders (the PO board): with ``waiting``, those still without an 855
        (``po_state`` open, due or late), oldest first, i.e. by their 855 deadline; else
        every one, newest first, one page (``limit``, ``offset``)."""
        query = self._orders(partner, waiting)
        if waiting:
            query = query.order_by(DocumentRow.created_at, DocumentRow.id)
        else:
            query = query.order_by(DocumentRow.created_at.desc(), DocumentRow.id.desc())
        query = query.limit(limit).offset(offset)
        return [_document_view(row) for row in self._s.scalars(query)]

    def count_purchase_orders(self, *, waiting: bool = False, partner: str | None = None) -> int:
        """How many :meth:`purchase_orders` would list without a limit."""
        query = self._orders(partner, waiting).with_only_columns(func.count(DocumentRow.id))
        return self._s.scalars(query).one()

    def document_with_key(self, type: str, business_key: str) -> DocumentView | None:
        """The first document of ``type`` with ``business_key`` (any partner), if any."""
        row = self._s.scalars(
            select(DocumentRow).where(DocumentRow.type == type,
                                      DocumentRow.business_key == business_key)
            .order_by(DocumentRow.id)
        ).first()  # fmt: skip
        return _document_view(row) if row else None

    def transaction_place(self, transaction_id: int) -> TransactionPlace | None:
        """Where one transaction set sits (envelope numbers, exchange, 997 outcome)."""
        row = self._s.execute(
            select(TransactionRow, GroupRow, InterchangeRow)
            .join(GroupRow, TransactionRow.group_id == GroupRow.id)
            .join(InterchangeRow, GroupRow.interchange_id == InterchangeRow.id)
            .where(TransactionRow.id == transaction_id)
        ).first()  # fmt: skip
        if row is None:
            return None
        t, g, i = row
        return TransactionPlace(
            t.id, i.exchange_id, i.direction, i.control_number, g.functional_id,
            g.control_number, t.set_id, t.control_number, t.status, t.ack_status, g.ack_status,
            g.ack_exchange_id, g.ack_due_at, g.acked_at, i.superseded_by,
        )  # fmt: skip

    # -- the actions' conditional writes ---------------------------------------------------

    def supersede_interchanges(
        self, exchange_id: int, by: int, *, only: tuple[str, str, str] | None = None
    ) -> int:
        """Mark the live interchange rows of ``exchange_id`` (only the one with ``only`` =
        (sender, receiver, ISA13)) superseded by the exchange ``by``: they stay as evidence
        and stop holding their ISA13. Conditional on still being live; returns how many."""
        statement = update(InterchangeRow).where(
            InterchangeRow.exchange_id == exchange_id, InterchangeRow.superseded_by.is_(None)
        )
        if only is not None:
            statement = statement.where(
                InterchangeRow.sender == only[0], InterchangeRow.receiver == only[1],
                InterchangeRow.control_number == only[2],
            )  # fmt: skip
        result = self._s.execute(statement.values(superseded_by=by))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def requeue_failed(self, exchange_id: int, now: datetime) -> bool:
        """``failed`` -> ``queued`` with its attempts reset, no lease and no reason (the
        failure stays in the timeline), in one conditional UPDATE; False when the exchange
        is no longer ``failed`` (someone else acted)."""
        result = self._s.execute(
            update(Exchange).where(Exchange.id == exchange_id, Exchange.state == "failed")
            .values(state="queued", reason=None, attempts=0, lease_owner=None,
                    lease_expires_at=None, updated_at=now)
        )  # fmt: skip
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def file_name_taken(self, *, channel: str, direction: str, partner: str, name: str) -> bool:
        """Whether an exchange of this channel, direction and partner has this file name."""
        found = self._s.scalars(
            select(Exchange.id).where(Exchange.channel == channel,
                                      Exchange.direction == direction,
                                      Exchange.partner == partner, Exchange.file_name == name)
        ).first()  # fmt: skip
        return found is not None


def _add_key(keys: dict[str, set[str]], set_id: str, key: str | None) -> None:
    if not key:
        return
    if set_id in ("850", "855"):
        keys["po"].add(key)
    elif set_id == "810":
        keys["invoice"].add(key)
    elif set_id == "856":
        keys["shipment"].add(key)


def _add_document_keys(keys: dict[str, set[str]], document: DocumentRow) -> None:
    if document.po_number:
        keys["po"].add(document.po_number)
    if document.type == "invoice":
        keys["invoice"].add(document.business_key)
    elif document.type == "ship_notice":
        keys["shipment"].add(document.business_key)
