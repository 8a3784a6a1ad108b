"""Alerts on what Amazon penalises: one alert per condition until it clears, then a recovery.

An alert is a row of the store whose ``key`` names the condition; the UNIQUE ``open_key``
keeps one open alert per key however often, and by however many processes, the condition
is noticed. Each is raised (``Repository.raise_alert``) and cleared (``clear_alert``) in the
database transaction that records the state change it is about, so an alert never
outlives, or comes before, its cause. :func:`gateway.pipeline.notify.notify` then sends
each alert once when raised and once more (a recovery notice) when it clears.

Kinds and keys (what raises, what clears):

``inbound_rejected`` -- ``inbound_rejected:<exchange id>``
    An inbound exchange ends ``rejected`` or ``quarantined`` (:mod:`.inbound`). Cleared
    when it is processed again and ends well: in place, or as the copy a reprocess makes
    (``parent_id`` the rejected exchange). A copy rejected again holds its own alert,
    which supersedes the earlier one (no recovery notice in between).
``ack_rejected`` -- ``ack_rejected:<group id>``
    A partner's 997 rejects one of our groups (AK9 R) or a set of it (AK5 R)
    (:mod:`.inbound`). Cleared by a later 997 accepting the whole group.
``ack_overdue`` -- ``ack_overdue:<group id>``
    Our group has no 997 after ``ack_timeout_hours`` (:mod:`.reconcile`). Cleared when its
    997 arrives, whatever it says (a rejection raises ``ack_rejected``).
``po_ack_due`` -- ``po_ack_due:<partner>:<PO number>``
    A PO without an 855 after three quarters of ``po_ack_due_hours`` (:mod:`.reconcile`).
    Cleared when an 855 for the PO is rendered (:mod:`.outbound`); *superseded* when the PO
    becomes late: closed without a recovery notice, since nothing recovered.
``po_ack_late`` -- ``po_ack_late:<partner>:<PO number>``
    A PO without an 855 after ``po_ack_due_hours`` (:mod:`.reconcile`). Cleared when an 855
    for the PO is rendered. An operator thus receives, for a PO answered late: "855 due",
    "855 late", "recovered: 855 late"; for one answered between 75% and 100%: "855 due",
    "recovered: 855 due".
``send_failed`` -- ``send_failed:<exchange id>``
    An outbound interchange given up: folder or SFTP after ``gateway.max_send_attempts``
    tries (:mod:`.sending`), AS2 after the partnership's ``max_attempts`` or a refusing MDN
    (:mod:`.as2_outbound`). Cleared when the exchange is sent after all (re-queued).
``certificate_expiring`` -- ``certificate:<SHA-256 fingerprint>:<days>``
    A configured AS2 certificate ends within ``<days>``, the smallest threshold of
    ``alerts.certificate_warning_days`` it is within (:func:`check_certificates`). Crossing
    to a smaller threshold supersedes the larger one: 30, then 14, then 7, no recovery in
    between. Cleared when the certificate is renewed or no longer configured.
``certificate_expired`` -- ``certificate:<SHA-256 fingerprint>:expired``
    It has expired (supersedes the expiring alert). Cleared likewise.
``transport_down`` -- ``transport_down:<partner>``
    The partner's transport failed for longer than ``alerts.transport_down_minutes``
    (:func:`note_transports`). Cleared when it answers again.

The AS2 alerts of :mod:`.as2_inbound` and :mod:`.as2_outbound` (``as2_inbound_failed``,
``as2_message_id_reused``, ``as2_configuration``, ``as2_mdn_undeliverable``) follow the same
rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from gateway.pipeline.context import Pipeline
from gateway.store import DocumentRecord, ExchangeRecord, GroupRecord, Repository
from gateway.transports.as2.station import certificate_report

_CERTIFICATE_KINDS = ("certificate_expiring", "certificate_expired")


def inbound_rejected_key(exchange_id: int) -> str:
    """The key of the ``inbound_rejected`` alert of an inbound exchange."""
    return f"inbound_rejected:{exchange_id}"


def raise_inbound_rejected(
    tx: Repository, exchange: ExchangeRecord, state: str, reason: str | None
) -> bool:
    """Alert that an inbound exchange ended ``state`` (rejected or quarantined)."""
    return tx.raise_alert(
        key=inbound_rejected_key(exchange.id), kind="inbound_rejected", partner=exchange.partner,
        subject=f"{exchange.partner}: inbound {exchange.file_name} {state}",
        detail=(reason or "")[:4000] or None, exchange_id=exchange.id,
    )  # fmt: skip


def clear_inbound_rejected(tx: Repository, exchange_id: int) -> bool:
    """Clear the ``inbound_rejected`` alert of ``exchange_id`` (it was processed again, or
    its reprocessed copy ended well)."""
    return tx.clear_alert(inbound_rejected_key(exchange_id))


def ack_rejected_key(group_id: int) -> str:
    """The key of the ``ack_rejected`` alert of one of our groups."""
    return f"ack_rejected:{group_id}"


def ack_overdue_key(group_id: int) -> str:
    """The key of the ``ack_overdue`` alert of one of our groups."""
    return f"ack_overdue:{group_id}"


def raise_ack_overdue(tx: Repository, group: GroupRecord, hours: float) -> bool:
    """Alert that our group has had no 997 for ``hours``."""
    return tx.raise_alert(
        key=ack_overdue_key(group.id), kind="ack_overdue", partner=group.partner,
        subject=(f"{group.partner}: no 997 for our group {group.functional_id} "
                 f"{group.control_number} after {hours:g} h"),
        detail=(f"GS01 {group.functional_id}, GS06 {group.control_number}: the partner has "
                f"not acknowledged it within ack_timeout_hours ({hours:g} h)"),
        exchange_id=group.exchange_id,
    )  # fmt: skip


def po_ack_key(kind: str, partner: str, po_number: str | None) -> str:
    """The key of the ``po_ack_due`` or ``po_ack_late`` alert of a purchase order."""
    return f"{kind}:{partner}:{po_number}"


def raise_po_ack(
    tx: Repository, kind: str, order: DocumentRecord, due_at: datetime, hours: float
) -> bool:
    """Alert that a PO's 855 is due soon (``po_ack_due``; supersedes nothing) or late
    (``po_ack_late``; supersedes the PO's ``po_ack_due``)."""
    if kind == "po_ack_late":
        tx.supersede_alert(po_ack_key("po_ack_due", order.partner, order.po_number))
        subject = f"{order.partner}: PO {order.po_number} has no 855 after {hours:g} h"
    else:
        subject = (f"{order.partner}: 855 for PO {order.po_number} due by "
                   f"{due_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    detail = (f"PO {order.po_number} received {order.created_at:%Y-%m-%d %H:%M} UTC; the 855 "
              f"is due within {hours:g} h, by {due_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    return tx.raise_alert(key=po_ack_key(kind, order.partner, order.po_number), kind=kind,
                          partner=order.partner, subject=subject, detail=detail,
                          exchange_id=order.exchange_id)  # fmt: skip


def clear_po_ack(tx: Repository, partner: str, po_number: str | None) -> None:
    """An 855 for the PO was rendered: its ``po_ack_due`` and ``po_ack_late`` clear."""
    tx.clear_alert(po_ack_key("po_ack_due", partner, po_number))
    tx.clear_alert(po_ack_key("po_ack_late", partner, po_number))


def send_failed_key(exchange_id: int) -> str:
    """The key of the ``send_failed`` alert of an outbound exchange."""
    return f"send_failed:{exchange_id}"


def raise_send_failed(
    tx: Repository, exchange: ExchangeRecord, partner: str | None, reason: str
) -> bool:
    """Alert that an outbound exchange was given up."""
    return tx.raise_alert(key=send_failed_key(exchange.id), kind="send_failed", partner=partner,
                          subject=f"{partner}: {exchange.file_name} not delivered",
                          detail=reason, exchange_id=exchange.id)  # fmt: skip


def check_certificates(pipeline: Pipeline) -> int:
    """Raise and clear the certificate alerts for ``pipeline.now()``; returns how many alerts
    were raised. Meant to run every hour or so (``schedule.certificates_seconds``).

    Every AS2 certificate of the configuration (ours, the previous one, each partner's) is
    looked at (``certificate_report``): one that has expired holds
    ``certificate:<fingerprint>:expired``; one within some of
    ``alerts.certificate_warning_days`` holds ``certificate:<fingerprint>:<smallest of
    them>``. Any other open certificate alert is closed: superseded (no recovery notice)
    when the same certificate now holds another key, cleared (a recovery notice) when it
    was renewed or is no longer configured. A file that cannot be read is left to ``acorn
    doctor`` and to the sends that need it (``as2_configuration``)."""
    now = pipeline.now()
    thresholds = sorted(set(pipeline.config.alerts.certificate_warning_days))
    wanted: dict[str, dict[str, str | None]] = {}
    for status in certificate_report(pipeline.config, now):
        if status.fingerprint == "-":
            continue
        owner = "our AS2 station" if status.owner == "ours" else status.owner
        detail = (f"{status.path}: {status.subject}, SHA-256 fingerprint {status.fingerprint}, "
                  f"not valid after {status.not_after:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        partner = None if status.owner == "ours" else status.owner
        if status.days_left < 0 or (status.problem or "").startswith("expired"):
            key = f"certificate:{status.fingerprint}:expired"
            wanted.setdefault(key, {
                "kind": "certificate_expired", "partner": partner, "detail": detail,
                "subject": f"{owner}: certificate {status.subject} expired on "
                           f"{status.not_after:%Y-%m-%d}",
            })  # fmt: skip
            continue
        within = [days for days in thresholds if status.days_left <= days]
        if not within:
            continue
        key = f"certificate:{status.fingerprint}:{within[0]}"
        wanted.setdefault(key, {
            "kind": "certificate_expiring", "partner": partner, "detail": detail,
            "subject": f"{owner}: certificate {status.subject} expires in "
                       f"{status.days_left} days",
        })  # fmt: skip
    certificates = {key.rsplit(":", 1)[0] for key in wanted}
    raised = 0
    with pipeline.store.transaction() as tx:
        for kind in _CERTIFICATE_KINDS:
            for alert in tx.alerts(open_only=True, kind=kind):
                if alert.key in wanted:
                    continue
                if alert.key.rsplit(":", 1)[0] in certificates:
                    tx.supersede_alert(alert.key)  # 30 -> 14 -> 7 -> expired
                else:
                    tx.clear_alert(alert.key)  # renewed, or no longer configured
        for key, alert in wanted.items():
            raised += tx.raise_alert(key=key, kind=str(alert["kind"]), partner=alert["partner"],
                                     subject=str(alert["subject"]),
                                     detail=alert["detail"])  # fmt: skip
    return raised


def transport_down_key(partner: str) -> str:
    """The key of the ``transport_down`` alert of a partner."""
    return f"transport_down:{partner}"


def note_transports(pipeline: Pipeline, attempted: Iterable[str]) -> int:
    """Record what a job that tried the transports of the partners ``attempted`` found, and
    raise or clear ``transport_down``; returns how many alerts were raised.

    Contract: call it after each job that tried partners' transports (a poll, a send), with
    the names of the partners that job tried. A partner in ``pipeline.unreachable`` (filled
    by ``pick_up`` and ``send`` with the reason, and emptied by them when it answers) is
    down: the first time, ``pipeline.transport_down_since`` records ``pipeline.now()``; once
    down for longer than ``alerts.transport_down_minutes``, ``transport_down:<partner>`` is
    raised with the last reason. A partner that is not in it answered: its alert clears
    (the recovery notice) and it is forgotten in ``transport_down_since``.

    State is kept per process (the daemon's one Pipeline): after a restart the time down is
    counted again from the first failure seen, and an alert left open is cleared by the
    first answer. A transport that fails one way only (downloads, say, while uploads work)
    is seen down by one job and up by the other, and its time down starts again at each
    success: such a half failure is reported by ``send_failed`` (uploads), not by this
    alert."""
    now = pipeline.now()
    limit = timedelta(minutes=pipeline.config.alerts.transport_down_minutes)
    raised = 0
    for name in dict.fromkeys(attempted):
        key = transport_down_key(name)
        reason = pipeline.unreachable.get(name)
        noted = pipeline._transport_noted.get(name)
        if reason is None:
            pipeline.transport_down_since.pop(name, None)
            if noted != "up":
                with pipeline.store.transaction() as tx:
                    tx.clear_alert(key)
                pipeline._transport_noted[name] = "up"
            continue
        since = pipeline.transport_down_since.setdefault(name, now)
        if noted == "up":
            pipeline._transport_noted.pop(name)
        if now - since < limit or noted == "alerted":
            continue
        with pipeline.store.transaction() as tx:
            raised += tx.raise_alert(
                key=key, kind="transport_down", partner=name,
                subject=f"{name}: transport down since {since:%Y-%m-%d %H:%M} UTC",
                detail=reason[:2000],
            )  # fmt: skip
        pipeline._transport_noted[name] = "alerted"
    return raised
