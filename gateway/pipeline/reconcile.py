"""The clocks: 997s that do not come, 855s not sent in time, keys whose window passed.

* An outbound group still waiting for its 997 after ``ack_timeout_hours`` (default 24 h)
  becomes ``overdue`` (event ``ack_overdue`` on its exchange).
* A purchase order without an 855 sent becomes ``due`` after three quarters of
  ``po_ack_due_hours`` (default 24 h, Amazon's limit, amazon-x12.md section 4 rule 1) and
  ``late`` after all of it (events ``po_ack_due`` and ``po_ack_late``).
* Reserved shipment ids and SSCCs are freed 365 days on.

Each raises its alert in the same transaction (:mod:`gateway.pipeline.alerts`):
``ack_overdue``, ``po_ack_due``, then ``po_ack_late`` (which supersedes ``po_ack_due``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.pipeline.alerts import raise_ack_overdue, raise_po_ack
from gateway.pipeline.context import Pipeline


@dataclass(frozen=True)
class Reconciled:
    """What one pass of the clocks changed."""

    overdue_groups: int
    due_orders: int
    late_orders: int
    freed_keys: int


def reconcile(pipeline: Pipeline) -> Reconciled:
    """Advance every clock to ``pipeline.now()``."""
    now = pipeline.now()
    hours = pipeline.config.gateway.po_ack_due_hours
    window = timedelta(hours=hours)
    due = late = 0
    with pipeline.store.transaction() as tx:
        overdue = tx.mark_overdue_groups(now)
        for group in overdue:
            tx.event(group.exchange_id, "ack_overdue", gs01=group.functional_id,
                     gs06=group.control_number)  # fmt: skip
            raise_ack_overdue(tx, group, pipeline.config.gateway.ack_timeout_hours)
        for order in tx.documents(type="purchase_order"):
            if order.po_state not in ("open", "due"):
                continue
            age = now - order.created_at
            if age >= window:
                tx.set_po_state(order.id, "late")
                tx.event(order.exchange_id, "po_ack_late", po=order.po_number)
                raise_po_ack(tx, "po_ack_late", order, order.created_at + window, hours)
                late += 1
            elif age >= window * 0.75 and order.po_state == "open":
                tx.set_po_state(order.id, "due")
                tx.event(order.exchange_id, "po_ack_due", po=order.po_number)
                raise_po_ack(tx, "po_ack_due", order, order.created_at + window, hours)
                due += 1
        freed = tx.purge_reservations(now)
    return Reconciled(len(overdue), due, late, freed)
