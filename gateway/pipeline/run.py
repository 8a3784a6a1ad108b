"""One pass of everything: what ``acorn process`` runs, and what the daemon schedules."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gateway.pipeline.as2_inbound import send_owed_mdns
from gateway.pipeline.as2_outbound import resend_unacknowledged
from gateway.pipeline.context import Pipeline
from gateway.pipeline.delivery import deliver
from gateway.pipeline.inbound import pick_up, process_received
from gateway.pipeline.outbound import collect_exports, render_exports
from gateway.pipeline.reconcile import reconcile
from gateway.pipeline.sending import send


@dataclass(frozen=True)
class PassSummary:
    """How much one pass did."""

    files_received: int
    interchanges_processed: int
    orders_delivered: int
    exports_received: int
    exports_queued: int
    interchanges_sent: int
    acks_overdue: int
    orders_due: int
    orders_late: int

    def as_dict(self) -> dict[str, int]:
        """The figures by name."""
        return asdict(self)


def run_once(pipeline: Pipeline) -> PassSummary:
    """Poll, process, deliver, collect and render exports, send, reconcile — in that order,
    so that a 997 queued by this pass also leaves in this pass."""
    received = pick_up(pipeline)
    processed = process_received(pipeline)
    delivered = deliver(pipeline)
    exports = collect_exports(pipeline)
    queued = render_exports(pipeline)
    resend_unacknowledged(pipeline)
    sent = send(pipeline)
    send_owed_mdns(pipeline)
    clocks = reconcile(pipeline)
    return PassSummary(received, processed, delivered, exports, queued, sent,
                       clocks.overdue_groups, clocks.due_orders, clocks.late_orders)  # fmt: skip
