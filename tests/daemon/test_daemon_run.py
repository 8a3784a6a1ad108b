"""``acorn run`` as the operations team runs it: a subprocess on a temporary configuration
with a folder partner and an AS2 partner on an ephemeral port. A purchase order goes through
its whole chain on each (850 -> PO JSON -> 997; 855, 856, 810 -> Amazon -> 997s), ``/readyz``
and ``/metrics`` answer, the log is JSON lines bound with the exchange's keys, and SIGTERM
stops it cleanly within 10 s with nothing lost and nothing left claimed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bench.corpus import interchange, purchase_order_set
from gateway.erp import PurchaseOrder
from gateway.store import Store
from gateway.transports.as2 import cms
from gateway.transports.as2.mdn import read_mdn
from tests.pipeline.as2_sim import (
    Site,
    amazon_message,
    amazon_site,
    basic_auth,
    post_message,
    serving,
    write_site,
)
from tests.pipeline.pipeline_sim import AmazonPartner, Erp, GatewayHome
from tests.transports.as2.pki import make_identity

REPO = Path(__file__).resolve().parents[2]
NON_TERMINAL = {"received", "delivering", "queued", "staged", "awaiting_mdn"}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 40) -> Any:
    """Poll ``condition`` until it is truthy (returned) or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[GatewayHome, Site, Site]]:
    """Our configuration (AS2 partner ``amazon``, folder partner ``amazon-folder``, fast
    schedule) and a second gateway standing for Amazon's AS2 side, served."""
    root = tmp_path / "acme"
    keys = root / "keys"
    ours = write_site(
        root, f"sqlite:///{tmp_path / 'acme.db'}", our_as2="ACMEVENDOR", our_x12="ZZ:ACMEVENDOR",
        partner_name="amazon", partner_as2="AMAZON", partner_x12="ZZ:AMAZONAS2",
        identity=make_identity(keys, "acme"), partner_identities=[make_identity(keys, "amazon")],
        partner_url="http://127.0.0.1:9/as2",
    )  # fmt: skip
    ours.sock.close()  # acorn run binds its own port
    amazon = amazon_site(tmp_path / "amazon", f"sqlite:///{tmp_path / 'amazon.db'}", ours)
    home = GatewayHome(root=root, config=ours.config, database_url=ours.database_url,
                       to_us=root / "partner" / "to-us", from_us=root / "partner" / "from-us",
                       erp_inbox=ours.erp_inbox, erp_outbox=ours.erp_outbox)  # fmt: skip
    for folder in (home.to_us, home.from_us):
        folder.mkdir(parents=True)
    text = ours.config.read_text().replace("http://127.0.0.1:9/as2", amazon.url)
    text = text.replace("[gateway]\n", "[gateway]\nhttp_port = 0\nack_timeout_hours = 24\n")
    text += f"""
[schedule]
process_seconds = 0.3
outbox_seconds = 0.3
send_seconds = 0.3
clocks_seconds = 1
notify_seconds = 1

[[partners]]
name = "amazon-folder"
id = "ZZ:AMAZON"
our_id = "ZZ:ACMEVENDOR"
transport = "folder"
poll_seconds = 0.3
[partners.folder]
incoming = {json.dumps(str(home.to_us))}
outgoing = {json.dumps(str(home.from_us))}
"""
    ours.config.write_text(text)
    with serving(amazon) as served:
        yield home, ours, served  # type: ignore[misc]


def start(config: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ACORN_LOG_FORMAT": "json"}
    env.pop("ACORN_CRASHPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("listening on "), log.read_text()
    return process, line.removeprefix("listening on ")


def get(url: str) -> tuple[int, bytes]:
    """GET ``url`` as the test operator (HTTP Basic)."""
    request = urllib.request.Request(url, headers={"Authorization": basic_auth()})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_acorn_run_drives_a_po_through_its_chain_and_stops_cleanly_on_sigterm(
    world: tuple[GatewayHome, Site, Any], tmp_path: Path
) -> None:
    home, ours, amazon_served = world
    amazon, erp = AmazonPartner(home), Erp(home)
    log = tmp_path / "acorn-run.log"
    process, address = start(home.config, log)
    try:
        # The folder partner: an 850 in, the PO to the ERP, its 997 out.
        [po_number] = amazon.send_purchase_orders(1)
        orders: list[PurchaseOrder] = wait_for(erp.take_orders, "the folder PO in the ERP inbox")
        assert [o.po_number for o in orders] == [po_number]
        erp.export_documents(orders[0])
        received = wait_for(lambda: amazon.exchange() and {s for f in amazon.received
                                                           for s in f.set_ids} >= {"997", "855",
                                                                                   "856", "810"},
                            "the 997, 855, 856 and 810 at Amazon")  # fmt: skip
        assert received
        # The AS2 partner: a signed and encrypted 850, answered by a signed MDN.
        segments = purchase_order_set(random.Random(7), 1, 2)
        as2_po = segments[1].split("*")[3]
        payload = interchange([segments], 900_001, 900_001).replace(
            b"*ZZ*AMAZON         *", b"*ZZ*AMAZONAS2      *").replace(
            b"GS*PO*AMAZON*", b"GS*PO*AMAZONAS2*")  # fmt: skip
        message = amazon_message(ours, payload)
        answer = post_message(f"{address}/as2", message)
        mdn = read_mdn(answer.headers["content-type"], answer.body,
                       trusted=[ours.identity.certificate], now=datetime.now(UTC),
                       require_signed=True, allowed_digests=cms.DIGESTS)  # fmt: skip
        assert mdn.disposition.ok and mdn.mic is not None and mdn.mic.matches(message.mic)
        as2_orders = wait_for(erp.take_orders, "the AS2 PO in the ERP inbox")
        assert [o.po_number for o in as2_orders] == [as2_po]

        def amazon_got_our_997() -> bool:
            with amazon_served.pipeline.store.transaction() as tx:
                return bool(tx.as2_messages(direction="in", statuses=["processed"]))

        wait_for(amazon_got_our_997, "our 997 at Amazon over AS2")

        def quiet_and_acknowledged() -> bool:
            with Store(home.database_url).transaction() as tx:
                busy = tx._s.execute(text(
                    "SELECT count(*) FROM exchanges WHERE state IN ('received', 'delivering',"
                    " 'queued', 'staged', 'awaiting_mdn')")).scalar()
                waiting = tx._s.execute(text(
                    "SELECT count(*) FROM groups g JOIN interchanges i ON i.id = g.interchange_id"
                    " JOIN exchanges e ON e.id = i.exchange_id WHERE i.direction = 'out'"
                    " AND e.partner = 'amazon-folder' AND g.functional_id != 'FA'"
                    " AND g.ack_status IS NULL")).scalar()  # fmt: skip
            return busy == 0 and waiting == 0

        wait_for(quiet_and_acknowledged, "Amazon's 997s for the 855, 856 and 810 processed")
        status, body = get(f"{address}/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        status, body = get(f"{address}/metrics")
        metrics = body.decode()
        assert status == 200
        assert 'acorn_exchanges{direction="in",partner="amazon-folder",state="delivered"} 1.0' \
            in metrics  # fmt: skip
        assert 'acorn_exchanges{direction="in",partner="amazon",state="delivered"} 1.0' in metrics
        assert "acorn_certificate_days_left" in metrics
        status, body = get(f"{address}/healthz")
        assert status == 200
    finally:
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(20)
        stopping = time.monotonic() - stopped_at
    assert code == 0, log.read_text()[-3000:]
    assert stopping < 10
    store = Store(home.database_url)
    with store.transaction() as tx:
        rows = tx._s.execute(text("SELECT id, state, lease_owner FROM exchanges")).all()
    store.dispose()
    assert len(rows) >= 8  # 2 850s, 2 997s out, 3 exports, their 3 interchanges, Amazon's 997s
    assert [r for r in rows if r.state in NON_TERMINAL] == []
    assert [r for r in rows if r.lease_owner is not None] == []  # nothing left claimed
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all("event" in line and "timestamp" in line for line in lines)
    received_events = [line for line in lines if line["event"] == "file_received"]
    assert received_events and {"exchange_id", "partner", "direction"} <= set(received_events[0])
    assert any(line["event"] == "stopped" for line in lines)
