"""The daemon's jobs: each one step of the pipeline, run on its own schedule.

========================  ==================================================================
``poll:<partner>``        pick up the partner's files (folder or SFTP), every ``poll_seconds``
``process``               process what was received (SFTP, folder, AS2) and deliver POs
``outbox``                collect and render the ERP's exports
``send``                  AS2 resends due, then every queued interchange, then owed MDNs
``clocks``                997s overdue, 855s due and late (and their alerts)
``certificates``          certificates expiring within 30/14/7 days (alerts)
``purge``                 evidence past the retention period
``notify``                alerts and recovery notices to the webhook and by email
========================  ==================================================================

Every job is a function of the :class:`~gateway.pipeline.Pipeline`; each step claims its rows
with leases, so jobs may overlap with each other and with other processes on the same
database without doing anything twice. A lease belongs to a process (its owner name), not to
a thread, so the steps that several jobs run (processing what was received and delivering
POs: every ``poll:<partner>`` job and ``process``) take one lock per daemon: two threads of
one process delivering the same PO at once would both stage and publish it, and the ERP
would get it twice (reliability.md G2; found by the T3 chaos run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from gateway.config import Partner
from gateway.pipeline import Pipeline
from gateway.pipeline.alerts import check_certificates, note_transports
from gateway.pipeline.as2_inbound import send_owed_mdns
from gateway.pipeline.as2_outbound import resend_unacknowledged
from gateway.pipeline.delivery import deliver
from gateway.pipeline.inbound import pick_up, process_received
from gateway.pipeline.notify import notify
from gateway.pipeline.outbound import collect_exports, render_exports
from gateway.pipeline.reconcile import reconcile
from gateway.pipeline.retention import purge
from gateway.pipeline.sending import send


@dataclass(frozen=True)
class Job:
    """A job: its id, how often it runs (seconds) and what it does."""

    id: str
    seconds: float
    run: Callable[[Pipeline], object]


def _poll(partner: Partner, inbound: threading.Lock) -> Callable[[Pipeline], object]:
    def poll(pipeline: Pipeline) -> int:
        received = pick_up(pipeline, [partner])
        note_transports(pipeline, [partner.name])
        if received:
            with inbound:
                process_received(pipeline)
                deliver(pipeline)
        return received

    return poll


def _process(inbound: threading.Lock) -> Callable[[Pipeline], object]:
    def process(pipeline: Pipeline) -> int:
        with inbound:
            processed = process_received(pipeline)
            deliver(pipeline)
        return processed

    return process


def _outbox(pipeline: Pipeline) -> int:
    collect_exports(pipeline)
    return render_exports(pipeline)


def _send(pipeline: Pipeline) -> int:
    resend_unacknowledged(pipeline)
    before = set(pipeline.unreachable)
    sent = send(pipeline)
    send_owed_mdns(pipeline)
    # AS2 partners are only ever reached by sending; a partner that answered was taken out
    # of ``unreachable`` by the send, one that failed was put in.
    as2 = {p.name for p in pipeline.config.partners if p.transport == "as2"}
    note_transports(pipeline, sorted(as2 | before | set(pipeline.unreachable)))
    return sent


def jobs(pipeline: Pipeline) -> list[Job]:
    """Every job of ``pipeline``'s configuration."""
    schedule = pipeline.config.schedule
    inbound = threading.Lock()  # processing and delivery: one job at a time (module docstring)
    found = [
        Job(f"poll:{p.name}", p.poll_seconds, _poll(p, inbound))
        for p in pipeline.config.partners if p.transport != "as2"
    ]  # fmt: skip
    found += [
        Job("process", schedule.process_seconds, _process(inbound)),
        Job("outbox", schedule.outbox_seconds, _outbox),
        Job("send", schedule.send_seconds, _send),
        Job("clocks", schedule.clocks_seconds, reconcile),
        Job("certificates", schedule.certificates_seconds, check_certificates),
        Job("purge", schedule.purge_seconds, purge),
        Job("notify", schedule.notify_seconds, notify),
    ]
    return found
