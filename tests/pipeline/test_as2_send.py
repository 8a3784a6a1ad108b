"""Sending over AS2 through the real path: our gateway posts to a second gateway standing for
Amazon (its own AS2 endpoint and store, served by uvicorn); the MDN is verified (signature,
Original-Message-ID, MIC, disposition), kept as evidence, and retries post the same
Message-ID and bytes (reliability.md T3 O7, T14)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.as2_outbound import resend_unacknowledged
from gateway.pipeline.sending import send
from gateway.store import As2MessageRecord, ExchangeRecord
from gateway.transports.as2.certificates import fingerprint
from gateway.transports.as2.mic import Mic
from tests.pipeline.as2_sim import (
    Served,
    Site,
    amazon_message,
    amazon_site,
    as2_site,
    post_message,
    serving,
)
from tests.reliability.battery import Battery
from tests.transports.as2.pki import make_identity

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()


def sites(tmp_path: Path, **ours: object) -> tuple[Site, Site]:
    """Our gateway and Amazon's, each on its own SQLite database."""
    us = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}", **ours)
    amazon = amazon_site(tmp_path / "amazon", f"sqlite:///{tmp_path / 'amazon.db'}", us)
    # Point our partnership at Amazon's endpoint (known once its socket is bound).
    us.config.write_text(us.config.read_text().replace("http://127.0.0.1:9/as2", amazon.url))
    return us, amazon


def receive_an_order(served: Served, site: Site) -> None:
    """Amazon posts an 850; our pass processes it and queues a 997 for Amazon."""
    answer = post_message(served.url, amazon_message(site, PAYLOAD))
    assert answer.status == 200


def outbound(pipeline: Pipeline) -> tuple[ExchangeRecord, As2MessageRecord | None]:
    with pipeline.store.transaction() as tx:
        [exchange] = [e for e in tx.exchanges() if e.direction == "out"]
        return exchange, tx.as2_of_exchange(exchange.id, "out")


def received_by(pipeline: Pipeline) -> list[As2MessageRecord]:
    with pipeline.store.transaction() as tx:
        return tx.as2_messages(direction="in", statuses=["processed"])


def queue_interchange(pipeline: Pipeline) -> None:
    """One interchange for Amazon queued to be sent over AS2 (the golden 850's bytes)."""
    with pipeline.store.transaction() as tx:
        tx.add_exchange(channel="partner", direction="out", kind="x12", partner="amazon",
                        transport="as2", file_name="acme_997_000000001.edi", payload=PAYLOAD,
                        sha256="0" * 64, state="queued")  # fmt: skip


def release_all(pipeline: Pipeline) -> None:
    """Let a backed-off exchange be tried again now (the test does not wait 30 s)."""
    with pipeline.store.transaction() as tx:
        for exchange in tx.exchanges(states=["queued", "staged"]):
            tx.release(exchange.id)


def test_our_997_reaches_amazon_over_as2_and_its_signed_mdn_is_verified_and_kept(
    tmp_path: Path,
) -> None:
    ours, amazon = sites(tmp_path)
    with serving(ours) as us, serving(amazon) as them:
        receive_an_order(us, ours)
        summary = run_once(us.pipeline)
        assert summary.orders_delivered == 1 and summary.interchanges_sent == 1
        exchange, message = outbound(us.pipeline)
        assert exchange.state == "sent" and message is not None
        assert message.status == "delivered"
        assert message.disposition and message.disposition.endswith("; processed")
        with us.pipeline.store.transaction() as tx:
            ours_payload = tx.payload(exchange.id)
            mdn = tx.as2_mdn(message.id)
            events = [kind for _, kind, _ in tx.events(exchange.id)]
        assert mdn is not None and f"Received-Content-MIC: {message.mic}".encode() in mdn
        assert b"multipart/signed" in mdn  # the signed MDN, as received (G5)
        assert "interchange_sent" in events
        with us.pipeline.store.transaction() as tx:
            [envelope] = tx.envelope_tree(exchange.id)
        assert envelope.status == "sent"
        assert {g.status for g in envelope.groups} == {"sent"}
        [at_amazon] = received_by(them.pipeline)
        assert at_amazon.message_id == message.message_id
        assert message.mic is not None and at_amazon.mic is not None
        assert Mic.parse(at_amazon.mic).matches(Mic.parse(message.mic))
        with them.pipeline.store.transaction() as tx:
            assert tx.payload(at_amazon.exchange_id) == ours_payload
        assert ours_payload.startswith(b"ISA") and b"ST*997*" in ours_payload


def test_an_asynchronous_mdn_posted_to_us_completes_the_send(tmp_path: Path) -> None:
    ours, amazon = sites(tmp_path, partnership={"mdn": "async"})
    with serving(ours) as us, serving(amazon) as them:
        receive_an_order(us, ours)
        run_once(us.pipeline)
        deadline = time.monotonic() + 20
        while outbound(us.pipeline)[0].state != "sent" and time.monotonic() < deadline:
            time.sleep(0.1)
        exchange, message = outbound(us.pipeline)
        assert exchange.state == "sent", exchange.reason
        assert message is not None and message.status == "delivered"
        assert len(received_by(them.pipeline)) == 1


def test_retries_post_the_same_message_id_and_bytes_until_the_partner_answers(
    tmp_path: Path,
) -> None:
    ours, amazon = sites(tmp_path)
    with serving(ours) as us:
        receive_an_order(us, ours)
        run_once(us.pipeline)  # Amazon's endpoint is not listening: refused
        exchange, first = outbound(us.pipeline)
        assert exchange.state == "staged" and first is not None and first.attempts == 1
        with us.pipeline.store.transaction() as tx:
            first_body = tx.as2_body(first.id)
            failures = [d for _, k, d in tx.events(exchange.id) if k == "send_failed"]
        assert failures and failures[0]["retry_in"] == 30.0
        release_all(us.pipeline)
        with serving(amazon) as them:
            assert send(us.pipeline) == 1
            exchange, again = outbound(us.pipeline)
            assert exchange.state == "sent" and again is not None
            assert again.id == first.id and again.message_id == first.message_id
            assert again.attempts == 2
            with us.pipeline.store.transaction() as tx:
                assert tx.as2_body(again.id) == first_body
            [at_amazon] = received_by(them.pipeline)
            assert at_amazon.message_id == first.message_id


def test_after_max_attempts_the_send_fails_with_an_alert(tmp_path: Path) -> None:
    ours, _ = sites(tmp_path, partnership={"max_attempts": 2})
    with serving(ours) as us:
        receive_an_order(us, ours)
        run_once(us.pipeline)
        release_all(us.pipeline)
        send(us.pipeline)
        exchange, message = outbound(us.pipeline)
        assert exchange.state == "failed" and "after 2 tries" in (exchange.reason or "")
        assert message is not None and message.attempts == 2
        with us.pipeline.store.transaction() as tx:
            alerts = tx.alerts(open_only=True)
        assert [(a.kind, a.exchange_id) for a in alerts] == [("send_failed", exchange.id)]


def test_an_error_disposition_from_the_partner_fails_the_send_with_an_alert(
    tmp_path: Path,
) -> None:
    """Amazon does not trust the certificate we sign with: it answers
    ``processed/error: authentication-failed``; the document is not counted as delivered."""
    ours, amazon = sites(tmp_path)
    stranger = make_identity(tmp_path / "keys", "not-acme")
    text = amazon.config.read_text().replace(str(ours.identity.cert_path),
                                             str(stranger.cert_path))  # fmt: skip
    amazon.config.write_text(text)
    with serving(ours) as us, serving(amazon) as them:
        receive_an_order(us, ours)
        run_once(us.pipeline)
        exchange, message = outbound(us.pipeline)
        assert exchange.state == "failed"
        assert "authentication-failed" in (exchange.reason or "")
        assert message is not None and message.status == "failed"
        with us.pipeline.store.transaction() as tx:
            assert [a.kind for a in tx.alerts(open_only=True)] == ["send_failed"]
            assert tx.as2_mdn(message.id)  # the refusal is kept as evidence too
        assert received_by(them.pipeline) == []


def test_a_mic_that_differs_is_not_a_receipt(tmp_path: Path) -> None:
    """reliability.md 1.1: an MDN whose Received-Content-MIC differs from the one we stored
    when building the message is not counted as delivery: failed, with an alert."""
    ours, amazon = sites(tmp_path)
    with serving(ours) as us:
        receive_an_order(us, ours)
        run_once(us.pipeline)  # built and stored; Amazon not listening yet
        exchange, message = outbound(us.pipeline)
        assert exchange.state == "staged" and message is not None
        with us.pipeline.store.transaction() as tx:
            wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, sha-256"
            tx.update_as2_message(message.id, mic=wrong)
        release_all(us.pipeline)
        with serving(amazon):
            send(us.pipeline)
        exchange, message = outbound(us.pipeline)
        assert exchange.state == "failed" and "differs from ours" in (exchange.reason or "")
        with us.pipeline.store.transaction() as tx:
            assert [a.kind for a in tx.alerts(open_only=True)] == ["send_failed"]


@pytest.mark.battery("T14")
def test_without_an_asynchronous_mdn_in_time_the_same_bytes_are_posted_again(
    tmp_path: Path, battery: Battery
) -> None:
    """T14, outbound: our MDN endpoint is not served, so Amazon's MDN never arrives; after
    the wait the same Message-ID and bytes go again; Amazon processes the message once."""
    ours, amazon = sites(tmp_path, partnership={"mdn": "async", "async_mdn_wait_minutes": 30})
    pipeline = ours.pipeline()
    with serving(amazon) as them:
        queue_interchange(pipeline)
        assert send(pipeline) == 0
        exchange, first = outbound(pipeline)
        assert exchange.state == "awaiting_mdn" and first is not None
        with pipeline.store.transaction() as tx:
            posted_first = tx.as2_body(first.id)
        assert resend_unacknowledged(pipeline) == 0  # not yet
        later = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=31)
        pipeline.now = lambda: later
        assert resend_unacknowledged(pipeline) == 1
        assert outbound(pipeline)[0].state == "staged"
        send(pipeline)
        exchange, again = outbound(pipeline)
        assert again is not None and again.id == first.id and again.attempts == 2
        assert exchange.state == "awaiting_mdn"
        [at_amazon] = received_by(them.pipeline)
        assert at_amazon.message_id == first.message_id
        with them.pipeline.store.transaction() as tx:
            resends = [k for _, k, _ in tx.events(at_amazon.exchange_id) if k == "as2_resend"]
        assert resends == ["as2_resend"]
        with pipeline.store.transaction() as tx:
            assert tx.as2_body(again.id) == posted_first  # the same bytes
        battery.record(1, delivered_twice=len(received_by(them.pipeline)) - 1,
                       time_to_recover=31 * 60.0,
                       what="T14 outbound: no async MDN within 30 min, resent with the same "
                            "Message-ID and bytes", posts=again.attempts)  # fmt: skip


@pytest.mark.battery("T10")
def test_nothing_is_encrypted_for_an_expired_partner_certificate(
    tmp_path: Path, battery: Battery
) -> None:
    """The partner's only certificate has expired: the document waits, unsent, and an alert
    says why (never a message encrypted for an expired certificate)."""
    now = datetime.now(UTC)
    expired = make_identity(tmp_path / "keys", "amazon-expired",
                            not_before=now - timedelta(days=400),
                            not_after=now - timedelta(days=1))  # fmt: skip
    ours = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}", amazon=[expired])
    pipeline = ours.pipeline()
    queue_interchange(pipeline)
    assert send(pipeline) == 0
    exchange, message = outbound(pipeline)
    assert exchange.state == "queued" and message is None
    assert "none is valid" in pipeline.unreachable["amazon"]
    with pipeline.store.transaction() as tx:
        [alert] = tx.alerts(open_only=True)
    assert alert.kind == "as2_configuration" and "expired on" in (alert.detail or "")
    battery.record(1, lost=0 if exchange.state == "queued" else 1, alerts=1,
                   what="T10 outbound: the partner's only certificate expired (kept queued)")


@pytest.mark.battery("T10")
def test_we_send_during_a_rollover_on_both_sides(tmp_path: Path, battery: Battery) -> None:
    """Outbound rollover (reliability.md T10, "rollover works both ways"): Amazon has two
    certificates (the old one ends in 10 days; it already decrypts and signs with the new
    one, keeping the old key for decryption) and we have two keys (we sign with the new
    one; Amazon trusts both of ours). We encrypt for the certificate that ends last, Amazon
    opens it, and its MDN signed with its new key is verified: the 997 is ``sent``."""
    now = datetime.now(UTC)
    keys = tmp_path / "keys"
    old = make_identity(keys, "amazon-old", not_after=now + timedelta(days=10))
    new = make_identity(keys, "amazon-new", not_after=now + timedelta(days=700))
    us = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}", amazon=[old, new])
    our_previous = make_identity(keys, "acme-previous")
    us.config.write_text(us.config.read_text().replace(
        "[[partners]]", f'[as2.previous_key]\ncertificate = "{our_previous.cert_path}"\n'
                        f'private_key = "{our_previous.key_path}"\n\n[[partners]]'))  # fmt: skip
    amazon = amazon_site(tmp_path / "amazon", f"sqlite:///{tmp_path / 'amazon.db'}", us,
                         partnership={"certificates": [str(our_previous.cert_path),
                                                       str(us.identity.cert_path)]})  # fmt: skip
    text = amazon.config.read_text().replace(str(old.cert_path), str(new.cert_path))
    text = text.replace(str(old.key_path), str(new.key_path)).replace(
        "[[partners]]", f'[as2.previous_key]\ncertificate = "{old.cert_path}"\n'
                        f'private_key = "{old.key_path}"\n\n[[partners]]')  # fmt: skip
    amazon.config.write_text(text)
    us.config.write_text(us.config.read_text().replace("http://127.0.0.1:9/as2", amazon.url))
    pipeline = us.pipeline()
    with serving(amazon) as them:
        queue_interchange(pipeline)
        assert send(pipeline) == 1
        exchange, message = outbound(pipeline)
        assert exchange.state == "sent" and message is not None
        assert message.status == "delivered"
        assert message.certificate == fingerprint(new.certificate)  # MDN signed by the new key
        [at_amazon] = received_by(them.pipeline)
        assert at_amazon.certificate == fingerprint(us.identity.certificate)
    battery.record(1, lost=0 if exchange.state == "sent" else 1,
                   delivered_twice=len(received_by(them.pipeline)) - 1,
                   what="T10 outbound rollover: partner with two certificates, us with two "
                        "keys")  # fmt: skip


@pytest.mark.battery("T14")
def test_t14_after_max_attempts_without_an_asynchronous_mdn_the_send_fails_with_an_alert(
    tmp_path: Path, battery: Battery
) -> None:
    """T14, outbound, to the end: Amazon takes each POST but its asynchronous MDN never
    reaches us; after ``max_attempts`` posts (the same Message-ID and bytes, one wait
    apart) the exchange is ``failed`` with a ``send_failed`` alert, and Amazon processed
    the message once."""
    ours, amazon = sites(tmp_path, partnership={"mdn": "async", "async_mdn_wait_minutes": 30,
                                                 "max_attempts": 2})  # fmt: skip
    pipeline = ours.pipeline()
    clock = [datetime.now(UTC).replace(tzinfo=None)]
    started = clock[0]
    pipeline.now = lambda: clock[0]
    with serving(amazon) as them:
        queue_interchange(pipeline)
        posts = 0
        for _ in range(5):
            if outbound(pipeline)[0].state in ("failed", "sent"):
                break
            if send(pipeline) == 0 and outbound(pipeline)[0].state == "awaiting_mdn":
                posts += 1
            clock[0] += timedelta(minutes=31)
            resend_unacknowledged(pipeline)
        exchange, message = outbound(pipeline)
        assert exchange.state == "failed" and "no asynchronous MDN" in (exchange.reason or "")
        assert message is not None and message.attempts == 2 == posts
        with pipeline.store.transaction() as tx:
            alerts = tx.alerts(open_only=True)
        assert [(a.kind, a.exchange_id) for a in alerts] == [("send_failed", exchange.id)]
        assert len(received_by(them.pipeline)) == 1
    battery.record(1, delivered_twice=len(received_by(them.pipeline)) - 1,
                   what="T14 outbound: no async MDN ever; failed after max_attempts",
                   posts=posts, alerts=len(alerts),
                   simulated_minutes_until_failed=(clock[0] - started).total_seconds() / 60)
