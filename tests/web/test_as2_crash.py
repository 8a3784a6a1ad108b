"""kill -9 while receiving AS2 (reliability.md T3, C1 to C4): ``acorn serve`` is killed at a
crash point while it handles a message; the sender, seeing no answer, posts the same
message again to a restarted gateway (RFC 4130 5.5). Every case ends with one stored
message, a ``processed`` MDN carrying the sender's MIC, and exactly one ERP delivery."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.errors import RetryableTransportError
from gateway.pipeline.as2_inbound import receive_message
from gateway.transports.as2 import cms
from gateway.transports.as2.client import HttpAnswer
from gateway.transports.as2.mdn import read_mdn
from tests.pipeline.as2_sim import (
    Site,
    amazon_message,
    amazon_site,
    as2_site,
    post_message,
    serving,
)

#: The crash points of AS2, covered here (the folder pipeline's are in
#: tests/pipeline/test_pipeline_crash.py).
AS2_STEPS: dict[str, str] = {
    "as2.body_read": "C1: a POST's body read; nothing verified or stored",
    "as2.verified": "C2: a message decrypted and verified; nothing committed",
    "as2.committed": "C3: the message, its payload and its MDN committed; no answer sent",
    "as2.mdn_sent": "C4: the MDN answered; the payload not yet processed",
    "as2.built": "O2/O3: an outbound message built and committed; not posted",
    "as2.posted": "O7: an outbound message posted; its MDN not read",
    "as2.mdn_read": "O8: the partner's MDN read and checked; not committed",
}
RECEIVING = ["as2.body_read", "as2.verified", "as2.committed", "as2.mdn_sent"]
SENDING = ["as2.built", "as2.posted", "as2.mdn_read"]

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()


def serve(site: Site, crashpoint: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """``acorn serve`` for ``site`` as its own process (with a crash point armed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("ACORN_CRASHPOINT", None)
    if crashpoint:
        env["ACORN_CRASHPOINT"] = crashpoint
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(site.config), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("listening on "), process.stderr.read() if process.stderr else ""
    return process, line.removeprefix("listening on ") + "/as2"


def test_the_as2_steps_are_every_as2_crash_point_and_each_is_tested() -> None:
    assert set(RECEIVING) | set(SENDING) == set(AS2_STEPS)


@pytest.mark.parametrize("point", RECEIVING)
def test_a_kill_at_each_receiving_step_loses_nothing_and_delivers_once(
    tmp_path: Path, point: str
) -> None:
    answered = point == "as2.mdn_sent"
    site = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}")
    site.sock.close()  # acorn serve binds its own port
    message = amazon_message(site, PAYLOAD)
    process, url = serve(site, point)
    try:
        first: HttpAnswer | None = post_message(url, message)
    except RetryableTransportError:
        first = None
    assert process.wait(30) == -9  # killed at the crash point, like a power cut
    assert (first is not None) == answered
    process, url = serve(site)
    try:
        again = post_message(url, message)
    finally:
        process.terminate()
        process.wait(30)
    assert again.status == 200
    mdn = read_mdn(again.headers["content-type"], again.body,
                   trusted=[site.identity.certificate], now=datetime.now(UTC),
                   require_signed=True, allowed_digests=cms.DIGESTS)  # fmt: skip
    assert mdn.disposition.ok and mdn.mic is not None and mdn.mic.matches(message.mic)
    if first is not None:
        assert first.body == again.body  # the stored MDN, replayed byte for byte
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "process", "--config", str(site.config), "--json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stderr  # 3: Amazon's URL (for the 997) is down
    assert len(list(site.erp_inbox.glob("*.json"))) == 1
    pipeline = site.pipeline()
    with pipeline.store.transaction() as tx:
        processed = tx.as2_messages(direction="in", statuses=["processed"])
        inbound = [e for e in tx.exchanges() if e.direction == "in"]
    assert len(processed) == 1 and len(inbound) == 1
    pipeline.store.dispose()


@pytest.mark.parametrize("point", SENDING)
def test_a_kill_at_each_sending_step_sends_once_under_one_message_id(
    tmp_path: Path, point: str
) -> None:
    """Our 997 to Amazon (a second gateway, served): ``acorn process`` is killed at the
    step, then run again: the exchange ends ``sent`` with Amazon's MDN, Amazon processed
    one message, and every post carried the same Message-ID (T3 O7: never a new one)."""
    ours = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'acme.db'}")
    amazon = amazon_site(tmp_path / "amazon", f"sqlite:///{tmp_path / 'amazon.db'}", ours)
    ours.config.write_text(ours.config.read_text().replace("http://127.0.0.1:9/as2", amazon.url))
    ours.sock.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with serving(amazon) as them:
        pipeline = ours.pipeline()
        order = amazon_message(ours, PAYLOAD)
        assert receive_message(pipeline, _lower(order.headers), order.body).status == 200
        pipeline.store.dispose()
        killed = subprocess.run(
            [sys.executable, "-m", "gateway", "process", "--config", str(ours.config)],
            capture_output=True, text=True, env={**env, "ACORN_CRASHPOINT": point},
        )  # fmt: skip
        assert killed.returncode == -9, killed.stderr
        pipeline = ours.pipeline()
        with pipeline.store.transaction() as tx:  # the lease of the killed pass expires
            for exchange in tx.exchanges(states=["queued", "staged"]):
                tx.release(exchange.id)
        pipeline.store.dispose()
        rerun = subprocess.run(
            [sys.executable, "-m", "gateway", "process", "--config", str(ours.config)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        pipeline = ours.pipeline()
        with pipeline.store.transaction() as tx:
            [sent] = [e for e in tx.exchanges() if e.direction == "out"]
            messages = tx.as2_messages(direction="out")
        assert sent.state == "sent"
        assert [m.status for m in messages] == ["delivered"]
        with them.pipeline.store.transaction() as tx:
            received = tx.as2_messages(direction="in")
        assert [m.status for m in received] == ["processed"]
        assert received[0].message_id == messages[0].message_id
        pipeline.store.dispose()


def _lower(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}
