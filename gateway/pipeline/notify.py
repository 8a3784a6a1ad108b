"""Notifying alerts: each alert reaches the operators once when raised and once more, as a
recovery notice, when it clears (:mod:`gateway.pipeline.alerts` says which conditions).

:func:`notify` sends every notice the store owes (``Repository.alerts_to_notify``) to every
configured channel (``[alerts.webhook]``, ``[alerts.email]``), oldest alert first, and marks
each one right after it went out (``mark_alert_notified``): a notice is never lost (a
channel that fails leaves it owed, and the next run sends it) and never sent again once
marked. An alert raised and cleared before any run sends both: the alert, then the recovery
(the operator learns that it happened). The recovery of an alert is never sent before the
alert itself.

The webhook gets one POST per notice, ``Content-Type: application/json``, with
``Authorization: Bearer <token>`` when a token is configured. The body is one object, whose
fields are stable (new ones may be added; none will be renamed or removed)::

    {
      "event": "alert",                 # or "recovery" (the condition cleared)
      "id": 17,                         # the alert's id: with "event", unique per notice
      "kind": "ack_overdue",            # see gateway.pipeline.alerts
      "key": "ack_overdue:42",          # the condition; one open alert per key
      "partner": "amazon",              # or null
      "subject": "amazon: no 997 for our group PR 12 after 24 h",
      "detail": "...",                  # or null
      "exchange_id": 9,                 # the exchange concerned, or null
      "raised_at": "2026-03-02T08:00:00Z",
      "cleared_at": null,               # set on a recovery
      "gateway": "edi-1"                # alerts.name, or the host name
    }

An email is plain text, subject ``[acorn] <subject>`` or ``[acorn] recovered: <subject>``,
the same fields in the body.

Decisions:

* **No channel configured**: the notices are marked as notified (there is nobody to tell;
  the alerts stay in the store for ``acorn`` and the dashboard). Configuring a channel
  later does not replay them.
* **Two channels, one failing**: the other one gets the notice once; the notice stays owed
  and only the failing channel is tried again at the next run (remembered by this process;
  after a restart the working channel may receive it a second time). A failing channel is
  not tried again in the same run.
* **Several gateways on one database** each running ``notify`` at the same moment may both
  send a notice before either marks it: receivers can tell by ``id`` and ``event``.

Secrets never leave the channel (``gateway.transports.notify``): errors are logged as the
channel's message, which names the server and a status, never the token or the password.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.config import AlertSettings
from gateway.errors import TransportError
from gateway.log import get_logger
from gateway.pipeline.context import Pipeline
from gateway.store import AlertRecord
from gateway.transports.notify import send_email, send_webhook

_log = get_logger("gateway.notify")


def _time(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with ``Z``."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def notice(alert: AlertRecord, event: str, gateway: str) -> dict[str, Any]:
    """The JSON document of one notice (``event``: ``alert`` or ``recovery``)."""
    return {
        "event": event, "id": alert.id, "kind": alert.kind, "key": alert.key,
        "partner": alert.partner, "subject": alert.subject, "detail": alert.detail,
        "exchange_id": alert.exchange_id, "raised_at": _time(alert.raised_at),
        "cleared_at": _time(alert.cleared_at) if event == "recovery" else None,
        "gateway": gateway,
    }  # fmt: skip


def email_text(document: dict[str, Any]) -> tuple[str, str]:
    """The subject and plain-text body of one notice by email."""
    recovered = document["event"] == "recovery"
    subject = f"[acorn] {'recovered: ' if recovered else ''}{document['subject']}"
    lines = [
        ("Recovered: " if recovered else "") + str(document["subject"]), "",
        f"event:      {document['event']}",
        f"kind:       {document['kind']}",
        f"key:        {document['key']}",
        f"partner:    {document['partner'] or '-'}",
        f"exchange:   {document['exchange_id'] or '-'}",
        f"raised at:  {document['raised_at']}",
    ]  # fmt: skip
    if recovered:
        lines.append(f"cleared at: {document['cleared_at']}")
    lines.append(f"gateway:    {document['gateway']}")
    if document["detail"]:
        lines += ["", str(document["detail"])]
    return subject, "\n".join(lines) + "\n"


def _channels(settings: AlertSettings) -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    """Every configured channel, by name, as a function sending one notice."""
    channels: list[tuple[str, Callable[[dict[str, Any]], None]]] = []
    webhook, email = settings.webhook, settings.email
    if webhook is not None:
        channels.append(("webhook", lambda document: send_webhook(webhook, document)))
    if email is not None:
        channels.append(("email", lambda document: send_email(email, *email_text(document))))
    return channels


def _owed(alert: AlertRecord) -> list[str]:
    """The notices an alert still owes, in the order they go out."""
    owed = ["alert"] if alert.notified_at is None else []
    if alert.cleared_at is not None and alert.recovery_notified_at is None:
        owed.append("recovery")
    return owed


def notify(pipeline: Pipeline) -> int:
    """Send every notice the store owes to every configured channel, marking each one as
    soon as all channels took it; returns how many notices were marked. Meant to run every
    few seconds (``schedule.notify_seconds``); never raises for a channel that fails (the
    notice stays owed, the failure is logged as ``alert_notify_failed``)."""
    settings = pipeline.config.alerts
    gateway = settings.name or socket.gethostname()
    channels = _channels(settings)
    with pipeline.store.transaction() as tx:
        pending = tx.alerts_to_notify()
    done = 0
    failed: set[str] = set()
    for alert in pending:
        for event in _owed(alert):
            document = notice(alert, event, gateway)
            if not _deliver(pipeline, channels, failed, alert, event, document):
                break  # the recovery waits for its alert
            with pipeline.store.transaction() as tx:
                tx.mark_alert_notified(alert.id, recovery=event == "recovery")
            for name, _send in channels:
                pipeline._notices_sent.discard((alert.id, event, name))
            _log.info("alert_notified", alert_id=alert.id, key=alert.key, notice=event,
                      channels=[name for name, _send in channels])  # fmt: skip
            done += 1
    return done


def _deliver(
    pipeline: Pipeline, channels: list[tuple[str, Callable[[dict[str, Any]], None]]],
    failed: set[str], alert: AlertRecord, event: str, document: dict[str, Any],
) -> bool:  # fmt: skip
    """Send one notice to every channel that has not taken it yet; True when all have."""
    complete = True
    for name, send in channels:
        marker = (alert.id, event, name)
        if marker in pipeline._notices_sent:
            continue
        if name in failed:
            complete = False
            continue
        try:
            send(document)
        except TransportError as exc:
            failed.add(name)  # not tried again in this run
            complete = False
            _log.warning("alert_notify_failed", alert_id=alert.id, key=alert.key,
                         notice=event, channel=name, reason=str(exc))  # fmt: skip
            continue
        pipeline._notices_sent.add(marker)
    return complete
