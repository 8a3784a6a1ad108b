"""Secrets never leave (reliability.md G6, T8): ``acorn run`` at DEBUG on PostgreSQL, with
canaries as the AS2 key passphrase, an SFTP password, the database password and the webhook
token, while an SFTP partner is down long enough to raise an alert that is POSTed to the
webhook; then ``acorn doctor``, ``acorn config check`` and ``acorn process``. No canary
appears in the log, in any output, or in the database outside the payload store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from gateway.store import Store
from tests.pipeline.as2_sim import write_site
from tests.pipeline.pipeline_sim import create_postgres_database, drop_postgres_database
from tests.transports.as2.pki import make_identity
from tests.transports.receivers import WebhookReceiver

REPO = Path(__file__).resolve().parents[2]
CANARIES = {
    "ACORN_TEST_KEY_PASSPHRASE": "canary-passphrase-5c1f09d2",
    "ACORN_TEST_SFTP_PASSWORD": "canary-sftp-password-8e44a1b3",
    "ACORN_TEST_WEBHOOK_TOKEN": "canary-webhook-token-2d7f6c90",
}
DATABASE_PASSWORD = "canary-db-password-7a03e5f1"


def test_no_secret_reaches_a_log_an_output_or_the_database(tmp_path: Path) -> None:
    name, url = create_postgres_database()
    try:
        _run_with_canaries(tmp_path, url.replace("postgres@", f"postgres:{DATABASE_PASSWORD}@"))
    finally:
        drop_postgres_database(name)


def _run_with_canaries(tmp_path: Path, database_url: str) -> None:
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
               "ACORN_LOG_LEVEL": "DEBUG"}  # fmt: skip
        env.pop("ACORN_CRASHPOINT", None)
        log = tmp_path / "run.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(site.config)],
            stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env,
        )  # fmt: skip
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("listening on "), log.read_text()
        deadline = time.monotonic() + 30
        while not webhook.delivered() and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
        alerts = webhook.delivered()
        assert alerts and alerts[0]["kind"] == "transport_down"  # the SFTP partner is down
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
    for canary in [*CANARIES.values(), DATABASE_PASSWORD]:
        assert canary not in everything, f"{canary} leaked"
