"""Outbound: ERP exports from the watched outbox folder to queued interchanges.

1. **Claim** (:func:`collect_exports`): a complete file (not ``*.tmp``/``*.part``, not
   modified within ``settle_seconds``) is renamed atomically into ``outbox/processing/``
   (another process renaming it first simply wins), then stored with its bytes. A file in
   ``processing/`` without a row (a crash between the two) is stored on the next pass;
   nothing leaves the outbox folder without a committed row.
2. **Render** (:func:`render_exports`), one database transaction per export: read the JSON,
   check Amazon's rules (against the stored PO and 855 when there are), reserve the
   business keys (invoice number for ever; shipment id and SSCCs for 365 days), allocate
   control numbers, render, validate against the maps and queue the interchange. Any
   refusal rolls everything back — no control number is used for a refused export — and
   the export is marked ``rejected``.
3. **File away**: the export moves to ``archive/``, or to ``rejected/`` beside
   ``<name>.errors.json`` listing each JSON path and message.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from gateway.config import Partner
from gateway.crashpoints import crashpoint
from gateway.erp import Problem, document_json, parse_document
from gateway.errors import (
    ErpDocumentError,
    LeaseLost,
    MappingError,
    TransportError,
    X12WriteError,
)
from gateway.mapping import render
from gateway.pipeline.alerts import clear_po_ack
from gateway.pipeline.context import Pipeline
from gateway.pipeline.outgoing import allocate, record_outbound
from gateway.rules import check
from gateway.store import Repository
from gateway.transports import (
    claim_file,
    move_file,
    read_file,
    remove_file,
    sha256_of,
    stable_files,
    write_atomic,
)
from gateway.validation import validate
from gateway.x12 import Party, serialize

#: How long a shipment id or an SSCC stays reserved (amazon-x12.md section 5, rules 1, 5).
RESERVATION_DAYS = 365
#: The business key of each ERP document type, and the reservation kind it takes.
BUSINESS_KEYS = {
    "po_acknowledgment": "po_number",
    "ship_notice": "shipment_id",
    "invoice": "invoice_number",
    "inventory_advice": "advice_number",
}


class _Refused(Exception):
    """An export that will not be rendered, with its problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def collect_exports(pipeline: Pipeline) -> int:
    """Claim every complete export in the outbox and store it; returns how many."""
    outbox = pipeline.config.gateway.erp_outbox
    processing = outbox / "processing"
    for folder in (outbox, processing, outbox / "archive", outbox / "rejected"):
        folder.mkdir(parents=True, exist_ok=True)
    stored = 0
    for path in stable_files(processing, 0):  # claimed before a crash, perhaps not stored
        stored += _store(pipeline, path)
    for path in _in_arrival_order(stable_files(outbox, pipeline.config.gateway.settle_seconds)):
        try:
            claimed = claim_file(outbox, path.name, processing)
        except TransportError as exc:
            # A name or a file the gateway will not handle (a symlink, a control character
            # in the name): record it as quarantined and take it out of the way, so that
            # one bad file never stops the polling (reliability.md G3, T6).
            _quarantine(pipeline, path, str(exc))
            continue
        if claimed is None:
            continue  # another process claimed it first
        crashpoint("outbox.claimed")
        stored += _store(pipeline, claimed)
    return stored


def _in_arrival_order(paths: list[Any]) -> list[Any]:
    """Oldest first (then by name): an 855 dropped before its 810 is rendered before it, so
    the 810 is checked against the 855's prices (amazon-x12.md section 9)."""

    def arrival(path: Any) -> tuple[int, str]:
        try:
            return path.stat().st_mtime_ns, path.name
        except OSError:
            return 0, path.name  # gone already: the claim will say so

    return sorted(paths, key=arrival)


def _quarantine(pipeline: Pipeline, path: Any, reason: str) -> None:
    """Keep a refused outbox file's bytes in the store as ``quarantined``, then remove it."""
    try:
        data = read_file(path)
    except (OSError, TransportError):
        return  # not a regular file we may read (a symlink...): left alone, never followed
    name = path.name.encode("unicode_escape").decode("ascii")[:200]
    with pipeline.store.transaction() as tx:
        exchange_id = tx.add_exchange(
            channel="erp", direction="in", kind="erp_export", partner="erp",
            transport="folder", reference=name, file_name=name, payload=data,
            sha256=sha256_of(data), state="quarantined", business_key=None,
        )  # fmt: skip
        if exchange_id is not None:
            tx.set_state(exchange_id, "quarantined", reason=reason)
            tx.event(exchange_id, "export_quarantined", reason=reason)
    remove_file(path, sha256_of(data))


def _store(pipeline: Pipeline, path: Any) -> int:
    try:
        data = read_file(path)
    except FileNotFoundError:
        # Listed in processing/, then filed away by another instance before this read
        # (reliability.md T13): it has its row; nothing to do, and no reason to crash (G3).
        return 0
    with pipeline.store.transaction() as tx:
        exchange_id = tx.add_exchange(
            channel="erp", direction="in", kind="erp_export", partner="erp",
            transport="folder", reference=str(path), file_name=path.name, payload=data,
            sha256=sha256_of(data), state="received",
        )  # fmt: skip
        if exchange_id is not None:
            tx.event(exchange_id, "export_received", name=path.name, size=len(data))
    crashpoint("outbox.stored")
    if exchange_id is None:
        # Stored already: a crash came after the commit, or the same bytes were dropped
        # again under the same name. Either way it gives no second interchange.
        _file_away(pipeline, path.name)
        return 0
    return 1


def render_exports(pipeline: Pipeline) -> int:
    """Check, render and queue every stored export; returns how many were queued."""
    queued = 0
    for exchange in pipeline.claimed(states=["received"], kinds=["erp_export"]):
        with pipeline.store.transaction() as tx:
            data = tx.payload(exchange.id)
        fence = {"owner": pipeline.owner, "expected": ["received"]}
        try:
            with pipeline.store.transaction() as tx:
                key = _render(pipeline, tx, exchange.id, data)
                tx.set_state(exchange.id, "rendered", **fence)  # type: ignore[arg-type]
                tx.event(exchange.id, "export_rendered", business_key=key)
                crashpoint("outbound.before_commit")
            queued += 1
        except LeaseLost:
            continue  # taken over by another process: it renders the export, we do not
        except _Refused as refused:
            problems = [{"path": p.path, "message": p.message, "code": p.code,
                         "severity": p.severity} for p in refused.problems]  # fmt: skip
            try:
                with pipeline.store.transaction() as tx:
                    tx.set_state(exchange.id, "rejected", reason=json.dumps(problems),
                                 **fence)  # type: ignore[arg-type]  # fmt: skip
                    tx.event(exchange.id, "export_rejected", problems=len(problems))
            except LeaseLost:
                continue
        crashpoint("outbound.committed")
        _file_away(pipeline, exchange.file_name)
    return queued


def _render(pipeline: Pipeline, tx: Repository, exchange_id: int, data: bytes) -> str:
    """Everything that commits with an accepted export; raises _Refused otherwise."""
    try:
        document = parse_document(data)
    except ErpDocumentError as exc:
        raise _Refused(exc.problems) from exc
    if document.type in ("purchase_order", "functional_ack"):
        raise _Refused([Problem("$.type", f"a {document.type} is not sent by the ERP")])
    partner, po = _partner_and_po(pipeline, tx, document)
    ack = _acknowledgment(tx, partner, document)
    errors = [p for p in check(document, purchase_order=po, acknowledgment=ack,
                               today=pipeline.today()) if p.severity == "error"]  # fmt: skip
    if errors:
        raise _Refused(errors)
    now = pipeline.now()
    numbers = allocate(tx, partner)
    release = partner.ship_notice_release if document.type == "ship_notice" else "004010"
    try:
        interchange = render(
            document, sender=Party(partner.our_id.qualifier, partner.our_id.id),
            receiver=Party(partner.id.qualifier, partner.id.id),
            interchange_control_number=numbers.interchange,
            group_control_number=numbers.group, when=now, release=release,
            usage=partner.usage,
        )  # fmt: skip
    except (MappingError, X12WriteError) as exc:
        raise _Refused([Problem("$", str(exc), "mapping")]) from exc
    report = validate(serialize(interchange), engine=pipeline.engine)
    if not report.accepted:
        raise _Refused([
            Problem("$", f"X12 {f.segment or ''}{f'[{f.position}]' if f.position else ''}"
                         f" {f.element_name or ''}: {f.message}".strip(), "map")
            for f in report.all_findings()
        ])  # fmt: skip
    key = str(getattr(document, BUSINESS_KEYS[document.type]))
    out_id, transaction_ids = record_outbound(
        tx, partner, interchange, kind="document", parent_id=exchange_id, now=now,
        ack_timeout=timedelta(hours=pipeline.config.gateway.ack_timeout_hours),
        business_key=key,
    )  # fmt: skip
    po_number = _po_number(document)
    document_id = tx.add_document(
        type=document.type, partner=partner.name, business_key=key, po_number=po_number,
        body=document_json(document), exchange_id=exchange_id, state="rendered",
        transaction_id=transaction_ids[0], at=now,
    )  # fmt: skip
    assert document_id is not None
    _reserve(tx, partner, document, document_id, now)
    if document.type == "po_acknowledgment":
        for order in tx.documents(type="purchase_order", partner=partner.name,
                                  po_number=document.po_number):  # fmt: skip
            tx.set_po_state(order.id, "acknowledged")
        clear_po_ack(tx, partner.name, document.po_number)  # po_ack_due / po_ack_late end
    tx.event(exchange_id, "interchange_rendered", exchange=out_id,
             isa13=interchange.control_number)  # fmt: skip
    return key


def _po_number(document: Any) -> str | None:
    if document.type == "ship_notice":
        return document.orders[0].po_number
    return getattr(document, "po_number", None)


def _partner_and_po(pipeline: Pipeline, tx: Repository, document: Any) -> tuple[Partner, Any]:
    """The partner an export goes to (the one whose PO it answers; the only partner when
    there is one) and that stored PO, when there is one."""
    po_number = _po_number(document)
    orders = tx.documents(type="purchase_order", po_number=po_number) if po_number else []
    if orders:
        order = orders[-1]
        return pipeline.config.partner(order.partner), parse_document(order.body)
    if len(pipeline.config.partners) == 1:
        return pipeline.config.partners[0], None
    where = "$.po_number" if po_number else "$"
    raise _Refused([Problem(where, "no stored purchase order tells which partner this is for")])


def _acknowledgment(tx: Repository, partner: Partner, document: Any) -> Any:
    """The last 855 sent for the export's PO (for 856/810 quantity and price checks)."""
    if document.type not in ("ship_notice", "invoice"):
        return None
    sent = tx.documents(type="po_acknowledgment", partner=partner.name,
                        po_number=_po_number(document))  # fmt: skip
    return parse_document(sent[-1].body) if sent else None


def _reserve(tx: Repository, partner: Partner, document: Any, document_id: int, now: Any) -> None:
    """Take the document's business keys; a key taken already refuses the export."""
    window = now + timedelta(days=RESERVATION_DAYS)
    keys: list[tuple[str, str, Any, str]] = []
    if document.type == "invoice":
        keys.append(("invoice_number", document.invoice_number, None, "$.invoice_number"))
    if document.type == "ship_notice":
        keys.append(("shipment_id", document.shipment_id, window, "$.shipment_id"))
        for o, order in enumerate(document.orders):
            for p, pallet in enumerate(order.pallets):
                if pallet.sscc:
                    keys.append(("sscc", pallet.sscc[-18:], window,
                                 f"$.orders[{o}].pallets[{p}].sscc"))  # fmt: skip
                for c, carton in enumerate(pallet.cartons):
                    keys.append(("sscc", carton.sscc[-18:], window,
                                 f"$.orders[{o}].pallets[{p}].cartons[{c}].sscc"))  # fmt: skip
            for c, carton in enumerate(order.cartons):
                keys.append(("sscc", carton.sscc[-18:], window,
                             f"$.orders[{o}].cartons[{c}].sscc"))  # fmt: skip
    taken = [
        Problem(path, f"{kind.replace('_', ' ')} {value} was used already", "duplicate_key")
        for kind, value, expires, path in keys
        if not tx.reserve(
            kind=kind, partner=partner.name, value=value, document_id=document_id,
            expires_at=expires,
        )
    ]
    if taken:
        raise _Refused(taken)


def _file_away(pipeline: Pipeline, name: str) -> None:
    """Move a processed export out of ``processing/``: to ``archive/``, or to ``rejected/``
    with its errors file. Idempotent: a file moved already is left alone."""
    outbox = pipeline.config.gateway.erp_outbox
    source = outbox / "processing" / name
    try:
        data = read_file(source)
    except FileNotFoundError:
        return  # filed already (by us before a crash, or by another instance, T13)
    with pipeline.store.transaction() as tx:
        record = tx.find_exchange(channel="erp", direction="in", partner="erp",
                                  file_name=name, sha256=sha256_of(data))  # fmt: skip
    if record is None or record.state not in ("rendered", "rejected"):
        return
    try:
        if record.state == "rejected":
            problems = json.loads(record.reason or "[]")
            errors = {"file": name, "exchange": record.id, "problems": problems}
            write_atomic(outbox / "rejected", f"{name}.errors.json",
                         (json.dumps(errors, indent=2) + "\n").encode("utf-8"))  # fmt: skip
            move_file(source, outbox / "rejected", name)
        else:
            move_file(source, outbox / "archive", name)
    except TransportError:
        # Another instance filing the same export at the same moment moved it first
        # (T13): the export is where it belongs. Anything else is a real failure.
        if source.exists():
            raise
        return
    crashpoint("outbox.filed")

