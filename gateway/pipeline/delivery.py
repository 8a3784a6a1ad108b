"""Delivery of purchase orders to the ERP inbox folder, exactly once.

Each purchase order goes ``pending`` -> ``staged`` -> ``delivered``, each step committed:

1. the JSON is written to a hidden ``.part`` file in the inbox and fsync'd (``stage``);
2. the row is marked ``staged`` (committed);
3. the file is renamed to its final name and the directory fsync'd (``publish``);
4. the row is marked ``delivered``.

After a crash anywhere, running again is enough: a ``pending`` row is staged again (the
``.part`` file is overwritten); a ``staged`` row is published if its ``.part`` file is
still there, and otherwise it was published already (the ERP may even have taken it), so
it is only marked. The ERP therefore never sees a file twice, nor a half-written one
(reliability.md G1, G2; T3 C5/C6).

A purchase order is written under a name that :func:`gateway.transports.safe_name` accepts:
the name recorded with it, or, when that one is unsafe (a PO number holding ``/``, ``..``,
``\\`` or a control character, T6), the name :func:`gateway.transports.derive_safe_name`
derives from it, the same on every attempt. Inbound processing records the derived name
already; deriving here too keeps a row recorded before that from failing on every pass and
never leaving ``delivering``. The JSON holds the PO number as the partner sent it.
"""

from __future__ import annotations

from pathlib import Path

from gateway.crashpoints import crashpoint
from gateway.errors import LeaseLost, TransportError
from gateway.pipeline.context import Pipeline
from gateway.store import Repository
from gateway.transports import derive_safe_name, publish_file, stage_file


def deliver(pipeline: Pipeline) -> int:
    """Deliver the purchase orders of every exchange in ``delivering``; returns how many
    files were published."""
    inbox = pipeline.config.gateway.erp_inbox
    inbox.mkdir(parents=True, exist_ok=True)
    published = 0
    for exchange in pipeline.claimed(states=["delivering"]):
        try:
            published += _deliver_exchange(pipeline, exchange.id, inbox)
        except LeaseLost:
            # Paused past the lease (a stalled VM, SIGSTOP): another process took the row
            # over and delivers it; this one publishes nothing more of it (G2).
            with pipeline.store.transaction() as tx:
                tx.event(exchange.id, "delivery_lease_lost", owner=pipeline.owner)
        except (OSError, TransportError) as exc:
            # The disk or the folder refused: the rows say exactly what is on disk; try
            # again on the next pass.
            with pipeline.store.transaction() as tx:
                tx.event(exchange.id, "delivery_failed", reason=str(exc))
                tx.release(exchange.id)
    return published


def _fence(tx: Repository, pipeline: Pipeline, exchange_id: int) -> None:
    """Within ``tx``: raise LeaseLost unless this process still holds the exchange's lease
    (the row stays ``delivering``, the lease is kept). Checked in the transaction that marks
    a PO staged, just before its file is published: a process that was paused past its lease
    must not publish a PO the process that took the row over may have delivered already."""
    tx.set_state(exchange_id, "delivering", release=False, owner=pipeline.owner,
                 expected=["delivering"])  # fmt: skip


def _deliver_exchange(pipeline: Pipeline, exchange_id: int, inbox: Path) -> int:
    """Stage, mark, publish and mark each purchase order of one exchange."""
    published = 0
    with pipeline.store.transaction() as tx:
        documents = [d for d in tx.documents(type="purchase_order", states=["pending", "staged"])
                     if d.exchange_id == exchange_id]  # fmt: skip
    for document in documents:
        name = derive_safe_name(document.delivery_name or f"{document.partner}-{document.id}.json")
        if document.state == "pending":
            stage_file(inbox, name, document.body.encode("utf-8"))
            crashpoint("delivery.staged")
            with pipeline.store.transaction() as tx:
                _fence(tx, pipeline, exchange_id)
                tx.set_document_state(document.id, "staged")
            crashpoint("delivery.marked_staged")
        else:  # staged by an earlier attempt: published only while the row is still ours
            with pipeline.store.transaction() as tx:
                _fence(tx, pipeline, exchange_id)
        published += publish_file(inbox, name)
        crashpoint("delivery.published")
        with pipeline.store.transaction() as tx:
            tx.set_document_state(document.id, "delivered")
            tx.event(exchange_id, "delivered_to_erp", name=name, po=document.po_number)
    with pipeline.store.transaction() as tx:
        tx.set_state(exchange_id, "delivered")
    return published
