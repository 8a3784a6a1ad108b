"""Alerts end to end (issue 7): a webhook receiver on loopback gets exactly one alert per
condition however often the detecting job runs (a 997 overdue, an 855 due then late, a
certificate expiring, a transport down, an inbound file rejected, a 997 rejecting our
group, a send given up), and one recovery notice when the condition clears (the 997
arrives, the 855 is sent, the certificate is renewed, the transport answers again...).

The gateway is the folder-transport home of ``pipeline_sim`` (or the AS2 site of
``as2_sim`` for certificates) with one long-lived :class:`Pipeline` whose clock the tests
move, as the daemon keeps one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import generate
from gateway.config import load_config
from gateway.errors import ValidationSetupError
from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.alerts import check_certificates, note_transports
from gateway.pipeline.inbound import pick_up
from gateway.pipeline.notify import notify
from gateway.pipeline.sending import send
from gateway.store import Store
from gateway.transports.as2.certificates import fingerprint
from tests.pipeline.as2_sim import as2_site
from tests.pipeline.pipeline_sim import AmazonPartner, Erp, GatewayHome, make_home
from tests.transports.as2.pki import make_identity
from tests.transports.receivers import WebhookReceiver

TOKEN_ENV = "ACORN_TEST_ALERT_TOKEN"
TOKEN = "alert-token-CANARY-2b8f61d4"


class Clock:
    """The pipeline's clock, moved by the test (starting at the real time, so that the
    simulators' dates agree with it)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def __call__(self) -> datetime:
        return self.at


def alerts_toml(webhook_url: str, **settings: Any) -> str:
    """An ``[alerts]`` section (``settings`` as TOML literals) with the webhook."""
    lines = ["", "[alerts]", 'name = "edi-test"']
    lines += [f"{key} = {value}" for key, value in settings.items()]
    lines += ["[alerts.webhook]", f'url = "{webhook_url}"', f'token_env = "{TOKEN_ENV}"',
              "timeout_seconds = 5", ""]  # fmt: skip
    return "\n".join(lines)


def open_pipeline(config: Path, clock: Clock) -> Pipeline:
    loaded = load_config(config)
    store = Store(loaded.gateway.database)
    store.upgrade()
    return Pipeline(config=loaded, store=store, now=clock)


def alerting_home(
    root: Path, database_url: str, webhook_url: str, *, gateway: str = "", **alerts: Any
) -> tuple[GatewayHome, Pipeline, Clock]:
    """A folder-transport home (``gateway``: extra ``[gateway]`` lines) with alerts to the
    webhook, and its pipeline on a test clock."""
    home = make_home(root, database_url)
    text = home.config.read_text().replace("[[partners]]", f"{gateway}\n[[partners]]", 1)
    home.config.write_text(text + alerts_toml(webhook_url, **alerts))
    clock = Clock()
    return home, open_pipeline(home.config, clock), clock


def notices(hook: WebhookReceiver) -> list[tuple[str, str]]:
    """(event, key) of every notice the webhook took, in order."""
    return [(d["event"], d["key"]) for d in hook.delivered()]


def passes(pipeline: Pipeline, times: int = 3) -> None:
    """Run the detecting jobs several times, notifying after each."""
    for _ in range(times):
        run_once(pipeline)
        notify(pipeline)


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def test_997_overdue_and_855_due_then_late_alert_once_each_and_recover(
    tmp_path: Path, database_url: str
) -> None:
    """Two POs; the 855 of the first is sent, the second is not answered. At 19 h the second
    is due (one alert); at 25 h the 855's group has no 997 (one alert) and the PO is late
    (one alert, and "due" closes without a recovery notice); the partner's 997 and the late
    855 then bring exactly two recovery notices. Passes run three times at each step."""
    with WebhookReceiver() as hook:
        home, pipeline, clock = alerting_home(tmp_path / "home", database_url, hook.url)
        amazon, erp = AmazonPartner(home), Erp(home)
        answered, ignored = amazon.send_purchase_orders(2)
        run_once(pipeline)
        orders = {order.po_number: order for order in erp.take_orders()}
        erp.export_documents(orders[answered], ["855"])
        passes(pipeline)
        ours = amazon.pick_up()  # the partner takes our files but answers only later
        assert [f.set_ids for f in ours if "855" in f.set_ids] == [{"855"}]
        assert hook.requests == []

        clock.at += timedelta(hours=19)
        passes(pipeline)
        assert notices(hook) == [("alert", f"po_ack_due:amazon:{ignored}")]

        clock.at += timedelta(hours=6)
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            (overdue,) = tx.alerts(kind="ack_overdue")
        assert notices(hook)[1:] == [("alert", overdue.key),
                                     ("alert", f"po_ack_late:amazon:{ignored}")]  # fmt: skip

        assert amazon.acknowledge(ours) == 1  # the 997 for our 855 arrives
        erp.export_documents(orders[ignored], ["855"])  # the late 855 is sent
        passes(pipeline)
        assert notices(hook)[3:] == [("recovery", overdue.key),
                                     ("recovery", f"po_ack_late:amazon:{ignored}")]  # fmt: skip
        passes(pipeline)
    assert len(hook.requests) == 5
    assert {r.authorization for r in hook.requests} == {f"Bearer {TOKEN}"}
    late_alert, late_recovery = hook.delivered()[2], hook.delivered()[4]
    assert late_alert["kind"] == "po_ack_late" and late_alert["partner"] == "amazon"
    assert ignored in late_alert["subject"] and late_alert["gateway"] == "edi-test"
    assert late_alert["cleared_at"] is None and late_recovery["cleared_at"] is not None
    assert set(late_alert) == {"event", "id", "kind", "key", "partner", "subject", "detail",
                               "exchange_id", "raised_at", "cleared_at", "gateway"}  # fmt: skip
    with pipeline.store.transaction() as tx:
        assert tx.alerts(open_only=True) == [] and tx.alerts_to_notify() == []
        kinds = [a.kind for a in tx.alerts()]
    assert sorted(kinds) == ["ack_overdue", "po_ack_due", "po_ack_late"]
    pipeline.store.dispose()


def _as2_config(tmp_path: Path, hook_url: str, certificate: Path) -> Path:
    """The AS2 site's configuration with alerts, its partner certificate ``certificate``."""
    config = tmp_path / "acme" / "acorn.toml"
    text = config.read_text()
    start = text.index("certificates = [")
    end = text.index("\n", start)
    text = text[:start] + f'certificates = ["{certificate}"]' + text[end:]
    if "[alerts]" not in text:
        text += alerts_toml(hook_url)
    config.write_text(text)
    return config


def test_certificate_expiring_alerts_at_30_14_7_days_and_recovers_when_renewed(
    tmp_path: Path,
) -> None:
    """Amazon's certificate ends in 20 days: one alert (within 30) however often the check
    runs; 7 days on, one alert within 14 (the 30-day one closes silently); 7 more days, one
    within 7; the configuration then names a renewed certificate: one recovery notice. Our
    own certificate (a year left) raises nothing."""
    keys = tmp_path / "acme" / "keys"
    soon = make_identity(keys, "amazon-soon",
                         not_after=datetime.now(UTC) + timedelta(days=20, hours=1))  # fmt: skip
    site = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}", amazon=[soon])
    with WebhookReceiver() as hook:
        config = _as2_config(tmp_path, hook.url, soon.cert_path)
        clock = Clock()
        pipeline = open_pipeline(config, clock)
        amazon_fingerprint = fingerprint(soon.certificate)
        for step in (0, 7, 7):
            clock.at += timedelta(days=step)
            for _ in range(3):
                check_certificates(pipeline)
                notify(pipeline)
        assert notices(hook) == [("alert", f"certificate:{amazon_fingerprint}:{days}")
                                 for days in (30, 14, 7)]  # fmt: skip
        assert [d["subject"] for d in hook.delivered()] == [
            f"amazon: certificate CN=amazon-soon, serial 0x{soon.certificate.serial_number:X} "
            f"expires in {days} days" for days in (20, 13, 6)
        ]
        renewed = make_identity(keys / "renewed", "amazon-soon")  # same key, a year more
        pipeline = open_pipeline(_as2_config(tmp_path, hook.url, renewed.cert_path), clock)
        for _ in range(3):
            check_certificates(pipeline)
            notify(pipeline)
        assert notices(hook)[3:] == [("recovery", f"certificate:{amazon_fingerprint}:7")]
        with pipeline.store.transaction() as tx:
            assert tx.alerts(open_only=True) == []
            everything = tx.alerts()
    # Ours (a year left) was checked all along and raised nothing.
    assert fingerprint(site.identity.certificate) not in {a.key.split(":", 1)[1][:95]
                                                          for a in everything}  # fmt: skip
    assert {a.partner for a in everything} == {"amazon"}


def test_certificate_that_expires_raises_certificate_expired(tmp_path: Path) -> None:
    """A certificate with 3 days left holds the 7-day alert; 4 days on it has expired: the
    7-day alert closes without a recovery notice and ``certificate_expired`` is raised once."""
    keys = tmp_path / "acme" / "keys"
    short = make_identity(keys, "amazon-short",
                          not_after=datetime.now(UTC) + timedelta(days=3, hours=1))  # fmt: skip
    as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}", amazon=[short])
    with WebhookReceiver() as hook:
        clock = Clock()
        pipeline = open_pipeline(_as2_config(tmp_path, hook.url, short.cert_path), clock)
        assert check_certificates(pipeline) == 1
        clock.at += timedelta(days=4)
        assert check_certificates(pipeline) == 1
        assert check_certificates(pipeline) == 0
        notify(pipeline)
    assert [(d["event"], d["kind"], d["key"].rsplit(":", 1)[1]) for d in hook.delivered()] == [
        ("alert", "certificate_expiring", "7"), ("alert", "certificate_expired", "expired"),
    ]
    assert "expired on" in hook.delivered()[1]["subject"]


def test_transport_down_alerts_once_after_the_limit_and_recovers_when_it_answers(
    tmp_path: Path,
) -> None:
    """The partner's folder becomes unreachable (a file where its directory was): polls at
    0, 5, 11, 12 and 20 minutes raise one alert, after the 10-minute limit; the folder
    comes back: one recovery notice, and the partner is no longer down or unreachable."""
    with WebhookReceiver() as hook:
        home, pipeline, clock = alerting_home(tmp_path / "home", "sqlite:///" + str(
            tmp_path / "acorn.db"), hook.url, transport_down_minutes=10)  # fmt: skip

        def poll() -> int:
            pick_up(pipeline)
            raised = note_transports(pipeline, ["amazon"])
            notify(pipeline)
            return raised

        assert poll() == 0
        away = home.to_us.with_name("to-us.away")
        home.to_us.rename(away)
        home.to_us.write_bytes(b"not a directory")
        raised = []
        for minutes in (0, 5, 6, 1, 8):
            clock.at += timedelta(minutes=minutes)
            raised.append(poll())
        assert raised == [0, 0, 1, 0, 0]
        assert "amazon" in pipeline.unreachable
        assert notices(hook) == [("alert", "transport_down:amazon")]
        assert "cannot" in hook.delivered()[0]["detail"]

        home.to_us.unlink()
        away.rename(home.to_us)
        clock.at += timedelta(minutes=1)
        assert poll() == 0 and poll() == 0
        assert notices(hook)[1:] == [("recovery", "transport_down:amazon")]
        assert pipeline.unreachable == {} and pipeline.transport_down_since == {}


def test_transport_that_answers_again_before_the_limit_raises_nothing(tmp_path: Path) -> None:
    """Down for 5 minutes with a 10-minute limit, then up, then down again for 5: no alert
    (the time down starts again after each answer)."""
    with WebhookReceiver() as hook:
        _home, pipeline, clock = alerting_home(tmp_path / "home", "sqlite:///" + str(
            tmp_path / "acorn.db"), hook.url, transport_down_minutes=10)  # fmt: skip
        for reachable in (False, False, True, False, False):
            pipeline.unreachable.pop("amazon", None)
            if not reachable:
                pipeline.unreachable["amazon"] = "cannot list: simulated"
            assert note_transports(pipeline, ["amazon"]) == 0
            clock.at += timedelta(minutes=5)
        notify(pipeline)
    assert hook.requests == []


def _reject_850(data: bytes) -> bytes:
    """An 850 the maps reject (BEG01 is not a code of the map)."""
    assert b"BEG*00*" in data
    return data.replace(b"BEG*00*", b"BEG*QQ*", 1)


def test_inbound_rejected_and_quarantined_alert_once_per_exchange(tmp_path: Path) -> None:
    """A file that is not X12 (quarantined) and an 850 the maps reject (rejected): one alert
    each, keyed by the exchange id, however many passes run."""
    with WebhookReceiver() as hook:
        home, pipeline, _clock = alerting_home(tmp_path / "home", "sqlite:///" + str(
            tmp_path / "acorn.db"), hook.url)  # fmt: skip
        (home.to_us / "junk.edi").write_bytes(b"this is not an interchange\n")
        (home.to_us / "bad850.edi").write_bytes(_reject_850(generate(31, sets=1, max_lines=1)))
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            inbound = {e.file_name: e for e in tx.exchanges()
                       if e.direction == "in" and e.channel == "partner"}  # fmt: skip
    assert {n: e.state for n, e in inbound.items()} == {"junk.edi": "quarantined",
                                                         "bad850.edi": "rejected"}  # fmt: skip
    assert sorted(notices(hook)) == sorted(
        ("alert", f"inbound_rejected:{e.id}") for e in inbound.values()
    )
    subjects = {d["exchange_id"]: d["subject"] for d in hook.delivered()}
    assert subjects[inbound["junk.edi"].id] == "amazon: inbound junk.edi quarantined"
    assert subjects[inbound["bad850.edi"].id] == "amazon: inbound bad850.edi rejected"


def test_quarantined_exchange_processed_again_successfully_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The maps cannot be loaded while an 850 is processed: it is quarantined (one alert);
    once the maps are back and the exchange is processed again (a reprocess moves it back to
    ``received``), it is delivered and the alert clears: one recovery notice."""
    import gateway.pipeline.inbound as inbound

    with WebhookReceiver() as hook:
        home, pipeline, _clock = alerting_home(tmp_path / "home", "sqlite:///" + str(
            tmp_path / "acorn.db"), hook.url)  # fmt: skip
        AmazonPartner(home).send_purchase_orders(1)

        def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise ValidationSetupError("map directory /opt/maps is unusable")

        with monkeypatch.context() as patch:
            patch.setattr(inbound, "validate_document", broken)
            passes(pipeline)
        with pipeline.store.transaction() as tx:
            (exchange,) = [e for e in tx.exchanges() if e.direction == "in"]
            assert exchange.state == "quarantined"
            tx.set_state(exchange.id, "received")  # what a reprocess does
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            assert tx.exchange(exchange.id).state == "delivered"
    assert notices(hook) == [("alert", f"inbound_rejected:{exchange.id}"),
                             ("recovery", f"inbound_rejected:{exchange.id}")]  # fmt: skip
    assert "map directory" in hook.delivered()[0]["detail"]


def _rejecting(data: bytes) -> bytes:
    """Amazon's 997 turned into one rejecting the set (AK5 R 5) and the group (AK9 R)."""
    text = data.decode()
    assert "AK5*A~" in text and "AK9*A*1*1*1~" in text
    return text.replace("AK5*A~", "AK5*R*5~").replace("AK9*A*1*1*1~", "AK9*R*1*1*0~").encode()


def test_997_rejecting_our_group_alerts_once_and_a_later_acceptance_recovers(
    tmp_path: Path,
) -> None:
    """The partner's 997 rejects our 855 (AK5 R, AK9 R): one ``ack_rejected`` alert however
    many passes run, no ``ack_overdue`` a day later (the group was answered); a corrected
    997 accepting the group then brings the recovery notice."""
    with WebhookReceiver() as hook:
        home, pipeline, clock = alerting_home(tmp_path / "home", "sqlite:///" + str(
            tmp_path / "acorn.db"), hook.url)  # fmt: skip
        amazon, erp = AmazonPartner(home), Erp(home)
        amazon.send_purchase_orders(1)
        run_once(pipeline)
        (order,) = erp.take_orders()
        erp.export_documents(order, ["855"])
        run_once(pipeline)
        ours = [f for f in amazon.pick_up() if "855" in f.set_ids]
        amazon.acknowledge(ours)
        (answer,) = sorted(home.to_us.glob("AMAZON_997_*.edi"))
        answer.write_bytes(_rejecting(answer.read_bytes()))
        passes(pipeline)
        clock.at += timedelta(hours=25)
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            (alert,) = tx.alerts()
        assert notices(hook) == [("alert", alert.key)] and alert.kind == "ack_rejected"
        assert "AK5 5" in (alert.detail or "") and "0 of 1 sets accepted" in (alert.detail or "")
        amazon.acknowledge(ours)  # a corrected 997 (a new interchange) accepting it
        passes(pipeline)
    assert notices(hook) == [("alert", alert.key), ("recovery", alert.key)]


def test_send_given_up_after_max_attempts_alerts_once_and_recovers_when_sent(
    tmp_path: Path,
) -> None:
    """The partner's outgoing folder is broken: the 997 for its 850 is tried twice
    (``max_send_attempts = 2``), then ``failed`` with one ``send_failed`` alert and the
    partner unreachable after the pass; later passes try nothing more. Repaired and re-queued by an
    operator, it is sent: one recovery notice."""
    with WebhookReceiver() as hook:
        home, pipeline, _clock = alerting_home(
            tmp_path / "home", "sqlite:///" + str(tmp_path / "acorn.db"), hook.url,
            gateway="max_send_attempts = 2",
        )  # fmt: skip
        amazon = AmazonPartner(home)
        run_once(pipeline)  # the transport is set up while its folders are fine
        away = home.from_us.with_name("from-us.away")
        home.from_us.rename(away)
        home.from_us.write_bytes(b"not a directory")
        amazon.send_purchase_orders(1)
        passes(pipeline, 1)
        assert "cannot" in pipeline.unreachable["amazon"]  # the send said why
        with pipeline.store.transaction() as tx:
            (ack,) = [e for e in tx.exchanges() if e.direction == "out"]
            assert ack.state == "queued"
            tx.release(ack.id)  # the 30 s backoff is over
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            failed = tx.exchange(ack.id)
            tries = [d for _at, kind, d in tx.events(ack.id) if kind == "send_failed"]
        assert failed.state == "failed" and "after 2 tries" in (failed.reason or "")
        assert [d.get("final", False) for d in tries] == [False, True]
        assert notices(hook) == [("alert", f"send_failed:{ack.id}")]

        home.from_us.unlink()
        away.rename(home.from_us)
        with pipeline.store.transaction() as tx:
            tx.set_state(ack.id, "queued")  # an operator's resend
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            assert tx.exchange(ack.id).state == "sent"
    assert notices(hook) == [("alert", f"send_failed:{ack.id}"),
                             ("recovery", f"send_failed:{ack.id}")]  # fmt: skip
    assert "amazon" not in pipeline.unreachable


def test_reprocessed_copies_hold_one_alert_per_input_and_recover_when_one_ends_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reprocess stores the input again as a new exchange whose ``parent_id`` is the
    rejected one (``acorn tx reprocess``). A copy quarantined again takes over the alert
    (the original's closes without a recovery notice); the next copy is delivered: the
    alert in force clears with one recovery notice, and nothing stays open."""
    import gateway.pipeline.inbound as inbound

    with WebhookReceiver() as hook:
        home, pipeline, _clock = alerting_home(tmp_path / "home", "sqlite:///" + str(
            tmp_path / "acorn.db"), hook.url)  # fmt: skip
        AmazonPartner(home).send_purchase_orders(1)

        def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise ValidationSetupError("map directory /opt/maps is unusable")

        def reprocess(exchange_id: int, suffix: str) -> int:
            with pipeline.store.transaction() as tx:
                earlier = tx.exchange(exchange_id)
                tx.set_state(exchange_id, "superseded")
                copy = tx.add_exchange(
                    channel="partner", direction="in", kind="x12", partner="amazon",
                    transport=earlier.transport, file_name=f"{earlier.file_name}.{suffix}",
                    payload=tx.payload(exchange_id), sha256=earlier.sha256, state="received",
                    parent_id=exchange_id,
                )  # fmt: skip
            assert copy is not None
            return copy

        with monkeypatch.context() as patch:
            patch.setattr(inbound, "validate_document", broken)
            passes(pipeline, 1)
            with pipeline.store.transaction() as tx:
                (original,) = [e.id for e in tx.exchanges() if e.direction == "in"]
            first = reprocess(original, "reprocess-1")
            passes(pipeline)
        second = reprocess(first, "reprocess-2")
        passes(pipeline)
        with pipeline.store.transaction() as tx:
            assert [tx.exchange(i).state for i in (original, first, second)] == [
                "superseded", "superseded", "delivered"]
            assert tx.alerts(open_only=True) == []
    assert notices(hook) == [("alert", f"inbound_rejected:{original}"),
                             ("alert", f"inbound_rejected:{first}"),
                             ("recovery", f"inbound_rejected:{first}")]  # fmt: skip


def test_as2_configuration_alert_clears_once_the_partner_can_be_sent_to(tmp_path: Path) -> None:
    """Amazon's only certificate has expired: the send is held with one
    ``as2_configuration`` alert however often it is tried; with a valid certificate
    configured the message goes (the AS2 URL answers 2xx, no MDN asked) and the alert
    clears: one recovery notice."""
    keys = tmp_path / "acme" / "keys"
    now = datetime.now(UTC)
    expired = make_identity(keys, "amazon-expired", not_before=now - timedelta(days=400),
                            not_after=now - timedelta(days=1))  # fmt: skip
    with WebhookReceiver() as partner, WebhookReceiver() as hook:
        as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}", amazon=[expired],
                 amazon_url=partner.url, partnership={"mdn": "none"})  # fmt: skip
        clock = Clock()
        pipeline = open_pipeline(_as2_config(tmp_path, hook.url, expired.cert_path), clock)
        with pipeline.store.transaction() as tx:
            exchange = tx.add_exchange(
                channel="partner", direction="out", kind="x12", partner="amazon",
                transport="as2", file_name="acme_997_000000001.edi", payload=b"ISA*...~",
                sha256="0" * 64, state="queued",
            )  # fmt: skip
        for _ in range(3):
            send(pipeline)
            with pipeline.store.transaction() as tx:
                tx.release(exchange)  # type: ignore[arg-type]  # the backoff is over
            notify(pipeline)
        assert notices(hook) == [("alert", "as2_configuration:amazon")]
        valid = make_identity(keys / "new", "amazon")
        pipeline = open_pipeline(_as2_config(tmp_path, hook.url, valid.cert_path), clock)
        assert send(pipeline) == 1
        notify(pipeline)
    assert notices(hook)[1:] == [("recovery", "as2_configuration:amazon")]
    assert len(partner.requests) == 1
