"""The whole pipeline over SFTP, against a real OpenSSH sshd on 127.0.0.1: 200 850s polled
and processed with their 997s uploaded, ERP exports sent as 855/856/810 under final names,
no ``.part`` left behind, nothing on the server read twice."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_config
from gateway.pipeline import Pipeline, run_once
from gateway.store import Store
from tests.pipeline.pipeline_sim import AmazonPartner, Erp, make_home, run_acorn
from tests.reliability.battery import Battery, count_tracebacks, scaled
from tests.transports.sftp_server import SshdServer, partner_toml
from tests.transports.test_transports_sftp import server  # noqa: F401 - the sshd fixture


def _sftp_home(
    tmp_path: Path, sshd: SshdServer, lease_seconds: float = 300
) -> tuple[Pipeline, Path, Path]:
    """A gateway whose partner is reached over SFTP: the partner's download folder is the
    server's ``inbox``, its upload folder the server's ``outbox``."""
    home = make_home(tmp_path, f"sqlite:///{tmp_path / 'acorn.db'}", lease_seconds=lease_seconds)
    text = home.config.read_text().split("[[partners]]")[0] + partner_toml(sshd)
    home.config.write_text(text)
    config = load_config(home.config, environ={})
    store = Store(config.gateway.database)
    store.upgrade()
    return Pipeline(config=config, store=store), home.erp_inbox, home.erp_outbox


def _drop(sshd: SshdServer, name: str, data: bytes) -> None:
    path = sshd.home / "inbox" / name
    path.write_bytes(data)
    if os.geteuid() == 0:
        os.chown(path, sshd._uid, sshd._gid)


def test_two_hundred_850s_and_their_answers_over_sftp(tmp_path: Path, server: SshdServer) -> None:  # noqa: F811
    """200 850 files on the server -> 200 POs to the ERP, 200 997s uploaded under final
    names, the server's inbox emptied; then 855/856/810 for ten POs go out as 30 more files;
    no ``.part`` file anywhere, every inbound file stored exactly once."""
    pipeline, inbox, _outbox = _sftp_home(tmp_path, server)
    amazon = AmazonPartner(make_home(tmp_path / "sim", "sqlite://"), seed=5)
    for _ in range(200):
        name, data, _numbers = amazon.purchase_order_interchange(max_lines=2)
        _drop(server, name, data)
    summary = run_once(pipeline)
    assert summary.files_received == 200 and summary.orders_delivered == 200
    assert list((server.home / "inbox").iterdir()) == []
    uploaded = sorted(p.name for p in (server.home / "outbox").iterdir())
    assert len(uploaded) == 200 and all(n.startswith("ACMEVENDOR_997_") for n in uploaded)
    assert len(list(inbox.glob("*.json"))) == 200

    erp = Erp(make_home(tmp_path / "erp-sim", "sqlite://"))
    erp.home.erp_inbox.rmdir()
    erp.home.erp_inbox.symlink_to(inbox)
    erp.home.erp_outbox.rmdir()
    erp.home.erp_outbox.symlink_to(pipeline.config.gateway.erp_outbox)
    orders = erp.take_orders()[:10]
    for order in orders:
        erp.export_documents(order)
    summary = run_once(pipeline)
    assert summary.exports_queued == 30 and summary.interchanges_sent == 30
    names = sorted(p.name for p in (server.home / "outbox").iterdir())
    assert sum(n.startswith("ACMEVENDOR_855_") for n in names) == 10
    assert sum(n.startswith("ACMEVENDOR_856_") for n in names) == 10
    assert sum(n.startswith("ACMEVENDOR_810_") for n in names) == 10
    assert not [n for n in names if n.endswith(".part") or n.startswith(".")]
    with pipeline.store.transaction() as tx:
        inbound = [e for e in tx.exchanges() if e.channel == "partner" and e.direction == "in"]
    assert len(inbound) == 200 and len({e.sha256 for e in inbound}) == 200
    assert run_once(pipeline).files_received == 0


def test_doctor_reports_connection_and_host_key(
    tmp_path: Path, server: SshdServer, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """`acorn doctor` says the endpoint connects and its host key is the pinned one (exit 0);
    with another key pinned it reports the key seen as not pinned (exit 3)."""
    pipeline, _inbox, _outbox = _sftp_home(tmp_path, server)
    config_path = tmp_path / "acorn.toml"
    assert main(["doctor", "--config", str(config_path), "--json"]) == 0
    (check,) = json.loads(capsys.readouterr().out)["checks"]
    assert (check["partner"], check["endpoint"], check["connects"], check["pinned"]) == (
        "amazon", "download", True, True,
    )  # fmt: skip
    seen = check["host_key"]
    assert seen
    stranger = tmp_path / "stranger_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True)  # fmt: skip
    public = stranger.with_suffix(".pub").read_text().split()[:2]
    server.known_hosts.write_text(f"[127.0.0.1]:{server.port} {' '.join(public)}\n")
    assert main(["doctor", "--config", str(config_path)]) == 3
    out = capsys.readouterr().out
    assert "UNREACHABLE" in out and "NOT pinned" in out
    pipeline.store.dispose()


@pytest.mark.battery("T3")
@pytest.mark.parametrize(
    "crashpoint",
    ["inbound.stored", "inbound.removed", "send.staged", "send.marked_staged", "send.published"],
)
def test_killed_over_sftp_the_rerun_does_nothing_twice(
    tmp_path: Path, server: SshdServer, crashpoint: str, battery: Battery  # noqa: F811
) -> None:
    """`acorn process` SIGKILLed between download and remote delete, or in the middle of an
    upload (staged, not yet renamed; renamed, not yet recorded): the rerun stores each
    server file once, delivers each PO once, uploads each 997 once, and leaves no .part.
    At the full scale (battery T3) three runs, killed at the 1st, 2nd and 3rd file."""
    for run in range(scaled(1, 3)):
        _killed_over_sftp(tmp_path / f"run-{run}", server, f"{crashpoint}:{run + 1}", battery)


def _killed_over_sftp(root: Path, server: SshdServer, crashpoint: str,  # noqa: F811
                      battery: Battery) -> None:  # fmt: skip
    root.mkdir()
    for left in (server.home / "outbox").iterdir():  # the previous run's uploads
        left.unlink()
    # A short lease: the killed process's rows are taken over at once by the rerun.
    pipeline, inbox, _outbox = _sftp_home(root, server, lease_seconds=0.25)
    pipeline.store.dispose()
    amazon = AmazonPartner(make_home(root / "sim", "sqlite://"), seed=9)
    po_numbers = []
    for _ in range(3):
        name, data, numbers = amazon.purchase_order_interchange(max_lines=2)
        _drop(server, name, data)
        po_numbers += numbers
    config = str(root / "acorn.toml")
    killed = run_acorn("process", "--config", config, ACORN_CRASHPOINT=crashpoint)
    assert killed.returncode == -9, killed.stderr
    time.sleep(0.3)  # let the dead process's leases expire
    started = time.monotonic()
    reruns = []
    for _ in range(3):
        reruns.append(run_acorn("process", "--config", config))
        assert reruns[-1].returncode == 0, reruns[-1].stderr
    recovered = time.monotonic() - started
    store = Store(f"sqlite:///{root / 'acorn.db'}")
    with store.transaction() as tx:
        exchanges = tx.exchanges()
    store.dispose()
    inbound = [e for e in exchanges if e.channel == "partner" and e.direction == "in"]
    outbound = [e for e in exchanges if e.direction == "out"]
    uploaded = sorted(p.name for p in (server.home / "outbox").iterdir())
    delivered = [json.loads(p.read_text())["po_number"] for p in inbox.glob("*.json")]
    battery.record(
        3,
        lost=sum(e.state != "delivered" for e in inbound) + max(0, 3 - len(inbound))
        + len(set(po_numbers) - set(delivered)) + max(0, 3 - len(uploaded)),
        delivered_twice=max(0, len(inbound) - 3) + len(delivered) - len(set(delivered))
        + max(0, len(uploaded) - 3),
        unhandled_exceptions=count_tracebacks(killed.stderr, *(r.stderr for r in reruns)),
        time_to_recover=round(recovered, 3), what=f"3 850s over SFTP, killed at {crashpoint}",
        database="sqlite",
    )  # fmt: skip
    assert len(inbound) == 3 and {e.state for e in inbound} == {"delivered"}
    assert len(outbound) == 3 and {e.state for e in outbound} == {"sent"}
    assert len(list(inbox.glob("*.json"))) == 3
    assert uploaded == sorted(e.file_name for e in outbound)
    assert list((server.home / "inbox").iterdir()) == []


def test_upload_to_a_server_that_is_down_backs_off(
    tmp_path: Path, server: SshdServer  # noqa: F811
) -> None:
    """The server goes away after the 850s were picked up: each 997's upload fails with a
    retryable error, is retried no sooner than 30 s later (not on the very next pass), and
    nothing is lost: the rows stay queued with their bytes."""
    pipeline, _inbox, _outbox = _sftp_home(tmp_path, server)
    amazon = AmazonPartner(make_home(tmp_path / "sim", "sqlite://"), seed=13)
    name, data, _numbers = amazon.purchase_order_interchange(max_lines=2)
    _drop(server, name, data)
    from gateway.pipeline.inbound import pick_up, process_received

    pick_up(pipeline)
    process_received(pipeline)
    server.stop()
    assert run_once(pipeline).interchanges_sent == 0
    assert run_once(pipeline).interchanges_sent == 0
    with pipeline.store.transaction() as tx:
        (ack,) = [e for e in tx.exchanges() if e.direction == "out"]
        failures = [d for _at, kind, d in tx.events(ack.id) if kind == "send_failed"]
        assert ack.state == "queued" and len(tx.payload(ack.id)) > 0
    assert len(failures) == 1 and failures[0]["retry_in"] == 30.0
    assert failures[0]["permanent"] is False
