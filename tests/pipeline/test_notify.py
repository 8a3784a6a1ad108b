"""Delivering alerts (``gateway.pipeline.notify``): every notice once, never lost when a
channel fails, never sent twice once marked; email with the right subjects; and the
webhook token and SMTP password (canaries) nowhere in output, logs or the store."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gateway.config import load_config
from gateway.pipeline import Pipeline
from gateway.pipeline.notify import notify
from gateway.store import Store
from tests.pipeline.pipeline_sim import make_home
from tests.transports.receivers import SmtpReceiver, WebhookReceiver, closed_port_url

TOKEN = "wh-token-CANARY-93d0c7aa"
PASSWORD = "smtp-pw-CANARY-4e71b2f5"


def _pipeline(tmp_path: Path, alerts: str = "") -> Pipeline:
    """A gateway home on SQLite with ``alerts`` (TOML) appended to its configuration."""
    home = make_home(tmp_path / "home", f"sqlite:///{tmp_path / 'acorn.db'}")
    home.config.write_text(home.config.read_text() + "\n" + alerts)
    config = load_config(home.config)
    store = Store(config.gateway.database)
    store.upgrade()
    return Pipeline(config=config, store=store)


def webhook_toml(url: str) -> str:
    return ("[alerts]\nname = \"edi-test\"\n[alerts.webhook]\n"
            f"url = \"{url}\"\ntoken_env = \"ACORN_TEST_TOKEN\"\n"
            "timeout_seconds = 3\n")  # fmt: skip


def email_toml(port: int, *, webhook: str | None = None) -> str:
    head = webhook_toml(webhook) if webhook else "[alerts]\nname = \"edi-test\"\n"
    return head + (f"[alerts.email]\nhost = \"127.0.0.1\"\nport = {port}\n"
                   "sender = \"acorn@vendor.test\"\nrecipients = [\"ops@vendor.test\"]\n"
                   "user = \"acorn\"\npassword_env = \"ACORN_TEST_SMTP_PASSWORD\"\n"
                   "starttls = false\ntimeout_seconds = 3\n")  # fmt: skip


def raise_alert(pipeline: Pipeline, key: str = "ack_overdue:1", **values: Any) -> None:
    fields: dict[str, Any] = {"kind": key.split(":")[0], "partner": "amazon",
                              "subject": f"amazon: {key}", "detail": "why it matters"}
    fields.update(values)
    with pipeline.store.transaction() as tx:
        assert tx.raise_alert(key=key, **fields)


def clear_alert(pipeline: Pipeline, key: str = "ack_overdue:1") -> None:
    with pipeline.store.transaction() as tx:
        assert tx.clear_alert(key)


def owed(pipeline: Pipeline) -> int:
    with pipeline.store.transaction() as tx:
        return len(tx.alerts_to_notify())


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACORN_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("ACORN_TEST_SMTP_PASSWORD", PASSWORD)


def test_failing_webhook_leaves_the_alert_owed_and_the_next_run_delivers_it_once(
    tmp_path: Path,
) -> None:
    """HTTP 500 at the first run: nothing marked; the second run delivers it; a third run
    sends nothing more."""
    with WebhookReceiver(statuses=[500]) as hook:
        pipeline = _pipeline(tmp_path, webhook_toml(hook.url))
        raise_alert(pipeline)
        assert notify(pipeline) == 0 and owed(pipeline) == 1
        assert notify(pipeline) == 1 and owed(pipeline) == 0
        assert notify(pipeline) == 0
    assert [r.status for r in hook.requests] == [500, 204]
    assert [(d["event"], d["key"]) for d in hook.delivered()] == [("alert", "ack_overdue:1")]


def test_unreachable_webhook_leaves_the_alert_owed_until_it_answers(tmp_path: Path) -> None:
    """Connection refused: the alert stays owed (twice); with the webhook back (the
    configuration points to a live receiver) it is delivered once."""
    pipeline = _pipeline(tmp_path, webhook_toml(closed_port_url()))
    raise_alert(pipeline)
    assert notify(pipeline) == 0 and notify(pipeline) == 0 and owed(pipeline) == 1
    with WebhookReceiver() as hook:
        config = pipeline.config.model_copy(deep=True)
        webhook = config.alerts.webhook.model_copy(update={"url": hook.url})  # type: ignore[union-attr]
        alerts = config.alerts.model_copy(update={"webhook": webhook})
        revived = Pipeline(config=config.model_copy(update={"alerts": alerts}),
                           store=pipeline.store)  # fmt: skip
        assert notify(revived) == 1 and notify(revived) == 0
    assert len(hook.requests) == 1 and owed(pipeline) == 0


def test_alert_raised_and_cleared_before_the_first_run_sends_alert_then_recovery(
    tmp_path: Path,
) -> None:
    """Raised and cleared between two runs: the operator still learns it happened, in
    order: the alert, then the recovery (with its cleared_at)."""
    with WebhookReceiver() as hook:
        pipeline = _pipeline(tmp_path, webhook_toml(hook.url))
        raise_alert(pipeline, "transport_down:amazon")
        clear_alert(pipeline, "transport_down:amazon")
        assert notify(pipeline) == 2 and notify(pipeline) == 0
    first, second = hook.delivered()
    assert (first["event"], second["event"]) == ("alert", "recovery")
    assert first["id"] == second["id"] and first["cleared_at"] is None
    assert second["cleared_at"] is not None and second["raised_at"].endswith("Z")


def test_recovery_waits_while_its_alert_cannot_be_delivered(tmp_path: Path) -> None:
    """The alert fails (500): its recovery is not sent ahead of it; next run, both, in
    order."""
    with WebhookReceiver(statuses=[500]) as hook:
        pipeline = _pipeline(tmp_path, webhook_toml(hook.url))
        raise_alert(pipeline)
        clear_alert(pipeline)
        assert notify(pipeline) == 0
        assert notify(pipeline) == 2
    assert [r.status for r in hook.requests] == [500, 204, 204]
    assert [d["event"] for d in hook.delivered()] == ["alert", "recovery"]


def test_without_any_channel_alerts_are_marked_and_stay_in_the_store(tmp_path: Path) -> None:
    """No webhook, no email: the notices are marked (nobody to tell); the alert is still
    listed, open."""
    pipeline = _pipeline(tmp_path)
    raise_alert(pipeline)
    assert notify(pipeline) == 1 and owed(pipeline) == 0
    with pipeline.store.transaction() as tx:
        (alert,) = tx.alerts(open_only=True)
    assert alert.notified_at is not None


def test_email_sends_one_mail_per_alert_and_per_recovery_with_their_subjects(
    tmp_path: Path,
) -> None:
    """Over SMTP with AUTH: one mail for the alert (``[acorn] <subject>``), one for its
    recovery (``[acorn] recovered: <subject>``), none more on later runs."""
    with SmtpReceiver(user="acorn", password=PASSWORD) as smtp:
        pipeline = _pipeline(tmp_path, email_toml(smtp.port))
        raise_alert(pipeline, "po_ack_late:amazon:PO123", subject="amazon: PO PO123 has no 855")
        assert notify(pipeline) == 1 and notify(pipeline) == 0
        clear_alert(pipeline, "po_ack_late:amazon:PO123")
        assert notify(pipeline) == 1 and notify(pipeline) == 0
    assert [m.subject for m in smtp.mails] == ["[acorn] amazon: PO PO123 has no 855",
                                               "[acorn] recovered: amazon: PO PO123 has no 855"]
    assert all(m.authenticated and m.recipients == ["ops@vendor.test"] for m in smtp.mails)
    body = smtp.mails[0].text
    assert "key:        po_ack_late:amazon:PO123" in body and "why it matters" in body
    assert "cleared at:" in smtp.mails[1].text


def test_a_failing_channel_does_not_repeat_the_notice_on_the_working_one(
    tmp_path: Path,
) -> None:
    """Webhook up, email down: the webhook gets the alert once; the notice stays owed while
    email is down (two runs) without a second POST; once email answers, it gets the mail
    and the notice is marked."""
    port = int(closed_port_url().split(":")[2].split("/")[0])
    with WebhookReceiver() as hook:
        pipeline = _pipeline(tmp_path, email_toml(port, webhook=hook.url))
        raise_alert(pipeline)
        assert notify(pipeline) == 0 and notify(pipeline) == 0 and owed(pipeline) == 1
        with SmtpReceiver(user="acorn", password=PASSWORD, port=port) as smtp:
            assert notify(pipeline) == 1 and owed(pipeline) == 0
    assert len(hook.requests) == 1 and len(smtp.mails) == 1


def _store_text(pipeline: Pipeline) -> str:
    """Every column of the alerts and events tables, as text."""
    with pipeline.store.transaction() as tx:
        rows = [*tx._s.execute(text("SELECT * FROM alerts")).all(),
                *tx._s.execute(text("SELECT * FROM events")).all()]  # fmt: skip
    return "\n".join(" ".join(map(str, row)) for row in rows)


def test_token_and_password_never_appear_in_output_logs_or_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Canaries as the webhook token and the SMTP password. Both channels fail first (a
    webhook answering 401 with an echo of our headers, token included; an SMTP server
    refusing the password), then succeed. The failures are logged, and neither canary is
    in stdout, stderr, the log records or any alert or event row."""
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver(statuses=[401], echo=True) as hook, \
            SmtpReceiver(user="acorn", password="another-password") as refusing:
        pipeline = _pipeline(tmp_path, email_toml(refusing.port, webhook=hook.url))
        raise_alert(pipeline, "send_failed:7")
        assert notify(pipeline) == 0
        with SmtpReceiver(user="acorn", password=PASSWORD) as smtp:
            email = pipeline.config.alerts.email.model_copy(update={"port": smtp.port})  # type: ignore[union-attr]
            alerts = pipeline.config.alerts.model_copy(update={"email": email})
            pipeline.config = pipeline.config.model_copy(update={"alerts": alerts})
            clear_alert(pipeline, "send_failed:7")
            assert notify(pipeline) == 2
    assert [r.status for r in hook.requests] == [401, 204, 204]
    assert hook.requests[0].authorization == f"Bearer {TOKEN}"  # the canary was really used
    assert set(refusing.auth_attempts) == {"acorn"} and len(smtp.mails) == 2
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text + "\n".join(
        str(record.msg) + str(record.args) for record in caplog.records
    )
    assert "alert_notify_failed" in logged and "HTTP 401" in logged and "535" in logged
    everything = logged + _store_text(pipeline) + "".join(m.text for m in smtp.mails)
    assert TOKEN not in everything and PASSWORD not in everything
