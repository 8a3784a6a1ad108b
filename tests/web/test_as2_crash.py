"""kill -9 while receiving AS2 (reliability.md T3, C1 to C4): ``acorn serve`` is killed at a
crash point while it handles a message; the sender, seeing no answer, posts the same
message again to a restarted gateway (RFC 4130 5.5). Every case ends with one stored
message, a ``processed`` MDN carrying the sender's MIC, and exactly one ERP delivery.

Part of the reliability battery (T3): each case records its figures (lost, delivered twice,
tracebacks, the rerun's time until quiet), on SQLite and on PostgreSQL; at the full scale
(``ACORN_BATTERY_SCALE=full``) each point runs three times. The restart needs no manual
step: the killed process's leases are short and simply expire."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from tests.pipeline.conftest import databases, postgresql_databases  # noqa: F401 (fixtures)
from tests.reliability.battery import Battery, count_tracebacks, scale, scaled

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



def _cases(points: list[str]) -> list[Any]:
    """The (point, database) cases: each point on both databases at the full scale (three
    runs each); at the CI scale each point on one of the two, alternating, to keep the
    battery's CI subset within 5 minutes (issue 11; ``make reliability`` runs them all)."""
    kinds = ("sqlite", "postgresql")
    pairs = ([(p, k) for p in points for k in kinds] if scale() == "full"
             else [(p, kinds[i % 2]) for i, p in enumerate(points)])  # fmt: skip
    return [pytest.param(p, k, id=f"{p}-{k}") for p, k in pairs]


REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()
LEASE_SECONDS = 0.25  # a killed process's rows are free again this long after it claimed them


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


@pytest.mark.battery("T3")
@pytest.mark.parametrize(("point", "databases"), _cases(RECEIVING), indirect=["databases"])
def test_a_kill_at_each_receiving_step_loses_nothing_and_delivers_once(
    tmp_path: Path, point: str, databases: Callable[[], str], battery: Battery  # noqa: F811
) -> None:
    """``acorn serve`` SIGKILLed at the step while it handles Amazon's POST; the sender posts
    the same message again to the restarted gateway: a ``processed`` MDN with the sender's
    MIC (the stored one, byte for byte, when the first was answered), one stored message,
    one ERP delivery."""
    for run in range(scaled(1, 3)):
        _receive_killed(tmp_path / f"run-{run}", databases(), point, battery)


def _receive_killed(root: Path, database_url: str, point: str, battery: Battery) -> None:
    answered = point == "as2.mdn_sent"
    site = as2_site(root / "acme", database_url)
    site.sock.close()  # acorn serve binds its own port
    message = amazon_message(site, PAYLOAD)
    process, url = serve(site, point)
    try:
        first: HttpAnswer | None = post_message(url, message)
    except RetryableTransportError:
        first = None
    assert process.wait(30) == -9  # killed at the crash point, like a power cut
    logs = [process.stderr.read() if process.stderr else ""]
    assert (first is not None) == answered
    restarted = time.monotonic()
    process, url = serve(site)
    try:
        again = post_message(url, message)
    finally:
        process.terminate()
        process.wait(30)
        logs.append(process.stderr.read() if process.stderr else "")
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "process", "--config", str(site.config), "--json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    recovered = time.monotonic() - restarted
    delivered = len(list(site.erp_inbox.glob("*.json")))
    pipeline = site.pipeline()
    with pipeline.store.transaction() as tx:
        processed = tx.as2_messages(direction="in", statuses=["processed"])
        inbound = [e for e in tx.exchanges() if e.direction == "in"]
    pipeline.store.dispose()
    battery.record(
        1, lost=int(delivered == 0 or not processed or not inbound),
        delivered_twice=max(0, delivered - 1) + max(0, len(processed) - 1)
        + max(0, len(inbound) - 1),
        unhandled_exceptions=count_tracebacks(*logs, done.stderr),
        time_to_recover=round(recovered, 3), what=f"one signed+encrypted 850, killed at {point}",
        database="postgresql" if database_url.startswith("postgresql") else "sqlite",
    )  # fmt: skip
    assert again.status == 200
    mdn = read_mdn(again.headers["content-type"], again.body,
                   trusted=[site.identity.certificate], now=datetime.now(UTC),
                   require_signed=True, allowed_digests=cms.DIGESTS)  # fmt: skip
    assert mdn.disposition.ok and mdn.mic is not None and mdn.mic.matches(message.mic)
    if first is not None:
        assert first.body == again.body  # the stored MDN, replayed byte for byte
    assert done.returncode in (0, 3), done.stderr  # 3: Amazon's URL (for the 997) is down
    assert delivered == 1
    assert len(processed) == 1 and len(inbound) == 1


@pytest.mark.battery("T3")
@pytest.mark.parametrize(("point", "databases"), _cases(SENDING), indirect=["databases"])
def test_a_kill_at_each_sending_step_sends_once_under_one_message_id(
    tmp_path: Path, point: str, databases: Callable[[], str], battery: Battery  # noqa: F811
) -> None:
    """Our 997 to Amazon (a second gateway, served): ``acorn process`` is killed at the
    step, then, once its short lease expired (no manual step), run again: the exchange ends
    ``sent`` with Amazon's MDN, Amazon processed one message, and every post carried the
    same Message-ID (T3 O7: never a new one)."""
    for run in range(scaled(1, 3)):
        _send_killed(tmp_path / f"run-{run}", databases(), databases(), point, battery)


def _send_killed(root: Path, ours_url: str, amazon_url: str, point: str,
                 battery: Battery) -> None:  # fmt: skip
    ours = as2_site(root / "acme", ours_url)
    amazon = amazon_site(root / "amazon", amazon_url, ours)
    text = ours.config.read_text().replace("http://127.0.0.1:9/as2", amazon.url)
    lease = f"[gateway]\nlease_seconds = {LEASE_SECONDS}\n"
    ours.config.write_text(text.replace("[gateway]\n", lease, 1))
    ours.sock.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("ACORN_CRASHPOINT", None)
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
        time.sleep(LEASE_SECONDS + 0.05)  # the killed pass's leases expire: nothing by hand
        started = time.monotonic()
        rerun = subprocess.run(
            [sys.executable, "-m", "gateway", "process", "--config", str(ours.config)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        recovered = time.monotonic() - started
        assert rerun.returncode == 0, rerun.stderr
        pipeline = ours.pipeline()
        with pipeline.store.transaction() as tx:
            outbound = [e for e in tx.exchanges() if e.direction == "out"]
            messages = tx.as2_messages(direction="out")
        pipeline.store.dispose()
        with them.pipeline.store.transaction() as tx:
            received = tx.as2_messages(direction="in")
        ids = {m.message_id for m in received}
        battery.record(
            1, lost=int(not received or [e.state for e in outbound] != ["sent"]),
            delivered_twice=max(0, len(received) - 1) + max(0, len(ids) - 1)
            + max(0, len(outbound) - 1),
            unhandled_exceptions=count_tracebacks(killed.stdout, killed.stderr, rerun.stderr),
            time_to_recover=round(recovered, 3), what=f"our 997 over AS2, killed at {point}",
            database="postgresql" if ours_url.startswith("postgresql") else "sqlite",
        )  # fmt: skip
        [sent] = outbound
        assert sent.state == "sent"
        assert [m.status for m in messages] == ["delivered"]
        assert [m.status for m in received] == ["processed"]
        assert received[0].message_id == messages[0].message_id


def _lower(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}
