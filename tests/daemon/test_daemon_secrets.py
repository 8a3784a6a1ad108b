"""Secrets never leave (reliability.md G6, T8): ``acorn run`` at DEBUG on PostgreSQL, with
canaries as the AS2 key passphrase, an SFTP password, the database password, the webhook
token, an operator's HTTP password and the session signing key, while an SFTP partner is
down long enough to raise an alert that is POSTed to the webhook, and while traffic runs:
AS2 messages from Amazon (good ones, one with a canary in a PO field, and bad ones of T5:
tampered, unknown pair, missing header), operator API calls with the right password and
with a wrong one (itself a canary); then ``acorn doctor``, ``acorn config check`` and
``acorn process``. No canary appears in the log, in any output, or in the database outside
the payload store; the PO-field canary does reach the ERP (it is payload, not a secret)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from bench.corpus import interchange, purchase_order_set
from gateway.store import Store
from gateway.web.auth import hash_password
from tests.pipeline.as2_sim import (
    _OPERATOR_HASH,
    amazon_message,
    basic_auth,
    post_message,
    write_site,
)
from tests.pipeline.pipeline_sim import create_postgres_database, drop_postgres_database
from tests.reliability.battery import Battery, count_tracebacks
from tests.transports.as2.pki import make_identity
from tests.transports.receivers import WebhookReceiver

REPO = Path(__file__).resolve().parents[2]
CANARIES = {
    "ACORN_TEST_KEY_PASSPHRASE": "canary-passphrase-5c1f09d2",
    "ACORN_TEST_SFTP_PASSWORD": "canary-sftp-password-8e44a1b3",
    "ACORN_TEST_WEBHOOK_TOKEN": "canary-webhook-token-2d7f6c90",
}
DATABASE_PASSWORD = "canary-db-password-7a03e5f1"
HTTP_PASSWORD = "canary-http-password-61b0e4aa"
WRONG_HTTP_PASSWORD = "canary-wrong-password-93d1c7e2"
SESSION_KEY = "canary-session-key-0f5e2b77"
#: Not a secret: a value in a PO field, which must reach the ERP and nothing else.
PO_FIELD = "CANARYPOFIELD4F2A9B"


@pytest.mark.battery("T8")
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_no_secret_reaches_a_log_an_output_or_the_database(
    tmp_path: Path, battery: Battery, database: str
) -> None:
    """On PostgreSQL the database password is a canary too (in the URL of the
    configuration); SQLite has none."""
    if database == "sqlite":
        inputs, tracebacks = _run_with_canaries(tmp_path, f"sqlite:///{tmp_path / 'acorn.db'}")
    else:
        name, url = create_postgres_database()
        try:
            inputs, tracebacks = _run_with_canaries(
                tmp_path, url.replace("postgres@", f"postgres:{DATABASE_PASSWORD}@"))
        finally:
            drop_postgres_database(name)
    battery.record(inputs, unhandled_exceptions=tracebacks, what="AS2 posts and API calls at "
                   "DEBUG", canaries=len(CANARIES) + 4 + (database == "postgresql"),
                   canaries_leaked=0)  # fmt: skip


def _po_with_canary(number: int) -> bytes:
    """An 850 interchange whose ship-to name (N102) is the PO-field canary."""
    segments = purchase_order_set(random.Random(number), 1, 3)
    segments = [s.replace("N1*ST**92*", f"N1*ST*{PO_FIELD}*92*", 1) for s in segments]
    assert any(PO_FIELD in s for s in segments)
    return interchange([segments], number, number)


def _api(url: str, password: str) -> int:
    request = urllib.request.Request(f"{url}/api/exchanges",
                                     headers={"Authorization": basic_auth(password=password)})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _traffic(site: object, base_url: str) -> int:
    """AS2 posts (good, one with the PO-field canary, T5 bad ones) and operator API calls
    against the running daemon; returns how many inputs were sent."""
    sent = 0
    for _number, payload in ((501, _po_with_canary(501)),
                            (502, interchange([purchase_order_set(random.Random(502), 1, 2)],
                                              502, 502))):  # fmt: skip
        answer = post_message(f"{base_url}/as2", amazon_message(site, payload))
        assert answer.status == 200 and b"processed" in answer.body, answer.status
        sent += 1
    message = amazon_message(site, interchange([purchase_order_set(random.Random(503), 1, 2)],
                                               503, 503))  # fmt: skip
    tampered = message.body[:-40] + bytes(b ^ 1 for b in message.body[-40:])
    assert post_message(f"{base_url}/as2", message, body=tampered).status == 200  # error MDN
    unknown = [(k, "STRANGER" if k.lower() == "as2-from" else v) for k, v in message.headers]
    assert post_message(f"{base_url}/as2", message, headers=unknown).status == 403
    missing = [(k, v) for k, v in message.headers if k.lower() != "message-id"]
    assert post_message(f"{base_url}/as2", message, headers=missing).status == 400
    sent += 3
    assert _api(base_url, HTTP_PASSWORD) == 200
    assert _api(base_url, WRONG_HTTP_PASSWORD) == 401
    return sent + 2


def _run_with_canaries(tmp_path: Path, database_url: str) -> tuple[int, int]:
    keys = tmp_path / "keys"
    ours = make_identity(keys, "acme-locked",
                         passphrase=CANARIES["ACORN_TEST_KEY_PASSPHRASE"].encode())  # fmt: skip
    site = write_site(
        tmp_path / "acme", database_url, our_as2="ACMEVENDOR", our_x12="ZZ:ACMEVENDOR",
        partner_name="amazon", partner_as2="AMAZON", partner_x12="ZZ:AMAZON", identity=ours,
        partner_identities=[make_identity(keys, "amazon")], partner_url="http://127.0.0.1:9/as2",
    )  # fmt: skip
    site.sock.close()
    known_hosts = keys / "known_hosts"
    known_hosts.write_text("[127.0.0.1]:9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6U"
                           "OoqKLsabgH5C9okWi0dh2l9GKJl\n")  # fmt: skip
    with WebhookReceiver() as webhook:
        config = site.config.read_text().replace(
            "[as2.key]\n", '[as2.key]\npassphrase_env = "ACORN_TEST_KEY_PASSPHRASE"\n')
        config = config.replace("[gateway]\n", "[gateway]\nhttp_port = 0\n")
        config = config.replace(_OPERATOR_HASH, hash_password(HTTP_PASSWORD))
        config += '\n[web]\nsecret_key_env = "ACORN_TEST_SESSION_KEY"\n'
        config += f"""
[schedule]
send_seconds = 0.3
notify_seconds = 0.3

[alerts]
transport_down_minutes = 0.01
[alerts.webhook]
url = "{webhook.url}"
token_env = "ACORN_TEST_WEBHOOK_TOKEN"

[[partners]]
name = "amazon-sftp"
id = "ZZ:AMAZONSFTP"
our_id = "ZZ:ACMEVENDOR"
transport = "sftp"
poll_seconds = 0.3
[partners.sftp]
inbox = "/download"
outbox = "/upload"
connect_timeout = 2
[partners.sftp.download]
host = "127.0.0.1"
port = 9
user = "acme"
password_env = "ACORN_TEST_SFTP_PASSWORD"
known_hosts = "{known_hosts}"
"""
        site.config.write_text(config)
        env = {**os.environ, **CANARIES, "PYTHONPATH": str(REPO), "ACORN_LOG_FORMAT": "json",
               "ACORN_LOG_LEVEL": "DEBUG", "ACORN_TEST_SESSION_KEY": SESSION_KEY}  # fmt: skip
        env.pop("ACORN_CRASHPOINT", None)
        log = tmp_path / "run.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(site.config)],
            stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env,
        )  # fmt: skip
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("listening on "), log.read_text()
        inputs = _traffic(site, first.removeprefix("listening on ").strip())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                a["kind"] == "transport_down" for a in webhook.delivered()):
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
        alerts = webhook.delivered()
        assert "transport_down" in {a["kind"] for a in alerts}  # the SFTP partner is down
        assert "as2_inbound_failed" in {a["kind"] for a in alerts}  # the tampered message
        assert webhook.requests[0].authorization == f"Bearer {CANARIES['ACORN_TEST_WEBHOOK_TOKEN']}"
        outputs = [first + rest, log.read_text()]
        for command in (["doctor", "--json"], ["config", "check", "--json"], ["process"],
                        ["tx", "list", "--json"]):  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-m", "gateway", *command, "--config", str(site.config)],
                capture_output=True, text=True, env=env, timeout=60,
            )  # fmt: skip
            outputs += [done.stdout, done.stderr]
    store = Store(database_url)
    with store.transaction() as tx:
        stored = []
        for table, columns in (("events", "kind, detail"), ("alerts", "subject, detail"),
                               ("exchanges", "reason, file_name, reference"),
                               ("as2_messages", "reason, headers, disposition")):  # fmt: skip
            stored += [str(row) for row in tx._s.execute(text(f"SELECT {columns} FROM {table}"))]
    store.dispose()
    everything = "\n".join(outputs + stored)
    assert "transport_down" in outputs[1] and "job_failed" not in outputs[1]
    assert json.loads(outputs[1].splitlines()[0])  # the log is JSON lines
    assert '"as2_received"' in outputs[1]  # the traffic was logged
    for canary in [*CANARIES.values(), DATABASE_PASSWORD, HTTP_PASSWORD, WRONG_HTTP_PASSWORD,
                   SESSION_KEY, PO_FIELD]:  # fmt: skip
        assert canary not in everything, f"{canary} leaked"
    delivered = [p.read_text("utf-8") for p in site.erp_inbox.glob("*.json")]
    assert any(PO_FIELD in d for d in delivered), "the PO with the canary was not delivered"
    return inputs, count_tracebacks(*outputs)
