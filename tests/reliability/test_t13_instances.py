"""T13, several instances (reliability.md section 4; issue 11): two ``acorn run`` daemons on
one PostgreSQL database, Amazon's SFTP server a real OpenSSH sshd on loopback, one daemon
SIGKILLed half-way.

Acceptance (issue 11): "With two instances on PostgreSQL and one killed half-way through 500
SFTP files and 500 ERP files, the survivor finishes the work within one lease period plus one
poll; every ISA13 is unique and increasing per receiver."
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.pipeline.pipeline_sim import (
    TERMINAL_STATES,
    AmazonPartner,
    Erp,
    GatewayHome,
    acorn_command,
    acorn_env,
    make_home,
    process_until_quiet,
    read_store,
    visible_files,
)
from tests.reliability.battery import Battery, count_tracebacks, scaled
from tests.transports.sftp_server import SshdServer, partner_toml
from tests.transports.test_transports_sftp import server  # noqa: F401 - the sshd fixture

LEASE_SECONDS = 10.0
POLL_SECONDS = 1.0  # the partner's SFTP poll and every job of the daemons
#: One job pass of the survivor that was already under way when a lease expired: the row is
#: claimed by that pass's next batch (or by the next pass, one interval later), and a batch
#: is at most 20 rows (Pipeline.claimed_batches). See the test's docstring.
PASS_TOLERANCE = 5.0
KINDS = ("855", "856", "810")
KEY_OF = {"855": "{po}", "856": "SH{po}", "810": "IN{po}"}
TYPE_OF = {"855": "po_acknowledgment", "856": "ship_notice", "810": "invoice"}


def _psycopg_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def _sftp_config(home: GatewayHome, sshd: SshdServer) -> None:
    """The partner ``amazon`` on the SFTP transport (polled every POLL_SECONDS), every job of
    ``acorn run`` every POLL_SECONDS, leases of LEASE_SECONDS."""
    head = home.config.read_text().split("[[partners]]")[0]
    home.config.write_text(
        head
        + f"""
[schedule]
process_seconds = {POLL_SECONDS}
outbox_seconds = {POLL_SECONDS}
send_seconds = {POLL_SECONDS}
notify_seconds = {POLL_SECONDS}

"""
        + partner_toml(sshd, poll_seconds=POLL_SECONDS, channel_timeout=10)
    )


@dataclasses.dataclass
class Daemon:
    """One ``acorn run`` process; its stderr (JSON log lines) goes to a file."""

    process: subprocess.Popen[str]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def errors(self) -> list[str]:
        """Log lines at error level or above, or carrying an exception."""
        found = []
        for line in self.stderr().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") in ("error", "critical") or "exception" in entry:
                found.append(line[:400])
        return found


def _start(home: GatewayHome, name: str) -> Daemon:
    log = home.root / f"{name}.stderr"
    process = subprocess.Popen(
        acorn_command("run", "--config", str(home.config), "--port", "0"),
        env=acorn_env(ACORN_LOG_FORMAT="json"), cwd=home.root, text=True,
        stdout=subprocess.PIPE, stderr=log.open("w"), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return Daemon(process, log)


def _wait_listening(daemon: Daemon) -> None:
    assert daemon.process.stdout is not None
    line = daemon.process.stdout.readline()  # the first line: "listening on http://..."
    assert line.startswith("listening on"), (line, daemon.stderr()[-2000:])


@contextlib.contextmanager
def _stopped_at_exit(daemons: list[Daemon]) -> Iterator[None]:
    try:
        yield
    finally:
        for daemon in daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait(10)


class Consumers(threading.Thread):
    """Amazon picking up what we upload and the ERP taking its purchase orders, every 0.2 s,
    as they do in production: a file published or delivered twice is seen twice even when
    the second copy would have had the first one's name."""

    def __init__(self, amazon: AmazonPartner, erp: Erp) -> None:
        super().__init__(daemon=True)
        self.amazon, self.erp = amazon, erp
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.amazon.pick_up()
                self.erp.take_orders()
            except FileNotFoundError:
                pass  # a listing raced a rename: the next round sees it
            except BaseException as exc:  # reported by the test
                self.failure = exc
                return
            self.stop.wait(0.2)


def _query(connection: psycopg.Connection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _owner_of(connection: psycopg.Connection, pid: int) -> list[str]:
    return [r[0] for r in _query(
        connection, "SELECT DISTINCT lease_owner FROM exchanges WHERE lease_owner LIKE %s",
        f"%:{pid}:%",
    )]  # fmt: skip


@pytest.mark.battery("T13")
def test_two_daemons_on_postgresql_one_killed_half_way_the_survivor_finishes(
    tmp_path: Path,
    postgresql_url: str,
    server: SshdServer,  # noqa: F811
    battery: Battery,
) -> None:
    """Two ``acorn run`` daemons (same acorn.toml: the partner on SFTP, polls and jobs every
    second, ``lease_seconds`` = 10) share N 850 files on the SFTP server and N ERP exports
    (855/856/810 for N POs prepared beforehand); N = 500 at full scale, 60 in CI. When half
    the inputs are done (seen in the database) the daemon holding more leases is SIGKILLed.

    Recovery: the rows the killed daemon held a lease on at the kill (snapshot) are each
    taken over by the survivor or already moved on within ``lease_seconds`` + one poll
    interval + PASS_TOLERANCE. The tolerance is one job pass of the survivor: a lease
    expires at ``claim + lease_seconds`` (at most ``lease_seconds`` after the kill); the
    survivor's job for that state claims it at its next batch if a pass is under way (at
    most one batch of 20 rows later, well under a second each on this machine), else at its
    next run, at most one interval later; 5 s covers a batch on 2 shared cores. The
    survivor then finishes everything.

    Exactly once: each inbound file is stored once and delivered (each PO reaches the ERP
    once, taken as it arrives), each export stored and rendered once to one interchange,
    each outbound interchange uploaded once (Amazon picks up as it arrives; no stale
    ``.part``), 0 rows in a non-terminal state, no error line or traceback in either
    daemon's log.

    Control numbers per receiver: ISA13 and GS06 unique and exactly 1..total, none lost
    and none used twice, and increasing in allocation order: a counter row stays locked
    from the allocation to the commit of the transaction that records the interchange, so
    ordered by the interchange row's id (taken after the allocation, under that lock) the
    ISA13s strictly increase. Publication order is not promised: two senders (and retries)
    upload in whatever order they get to, which Amazon accepts (unique names, and ISA13
    is not a sequence to it); the number of files Amazon saw out of ISA13 order is measured.
    """
    files = scaled(60, 500)
    home = make_home(tmp_path / "home", postgresql_url, lease_seconds=LEASE_SECONDS)
    _sftp_config(home, server)
    partner_home = dataclasses.replace(
        make_home(tmp_path / "amazon", "sqlite://"),
        to_us=server.home / "inbox", from_us=server.home / "outbox",
    )  # fmt: skip
    amazon, erp = AmazonPartner(partner_home, seed=1313), Erp(home)

    # The POs the exports answer, prepared by one pass in this process (ten per file).
    amazon.send_purchase_orders(files // 10, sets=10, max_lines=2)
    process_until_quiet(home)
    prepared = amazon.pick_up()
    orders = erp.take_orders()
    assert len(orders) == files and len(prepared) == files // 10
    view = read_store(home.database_url)
    before = {"exchanges": len(view.exchanges), "isa13": view.counters["amazon.isa13"],
              "last_id": max(e.id for e in view.exchanges)}  # fmt: skip

    incoming = amazon.send_purchase_orders(files, max_lines=2)
    inbound_names = [p.name for p in visible_files(server.home / "inbox")]
    exported: dict[str, tuple[str, str]] = {}
    for i, order in enumerate(orders):
        kind = KINDS[i % 3]
        (name,) = erp.export_documents(order, [kind], motor=i % 2 == 0)
        exported[name] = (kind, order.po_number)
    assert len(inbound_names) == files and len(exported) == files
    amazon_before, erp_before = len(amazon.received), len(erp.received)
    inputs = 2 * files
    terminal = tuple(TERMINAL_STATES)

    connection = psycopg.connect(_psycopg_url(postgresql_url), autocommit=True)
    consumers = Consumers(amazon, erp)
    daemons = [_start(home, "a"), _start(home, "b")]
    with _stopped_at_exit(daemons), connection:
        for daemon in daemons:
            _wait_listening(daemon)
        consumers.start()

        # Half-way: half the inputs in a terminal state; kill the daemon holding more leases.
        started = time.monotonic()
        deadline = started + scaled(120, 300)
        victim = None
        while time.monotonic() < deadline:
            (done,) = _query(connection, """
                SELECT count(*) FROM exchanges WHERE id > %s AND state = ANY(%s)
                AND ((channel = 'partner' AND direction = 'in') OR channel = 'erp')""",
                before["last_id"], list(terminal))[0]  # fmt: skip
            if done >= inputs // 2:
                held = {d.pid: _query(connection, """
                    SELECT count(*) FROM exchanges WHERE lease_owner LIKE %s
                    AND lease_expires_at > now() AT TIME ZONE 'UTC'""",
                    f"%:{d.pid}:%")[0][0] for d in daemons}  # fmt: skip
                if max(held.values()) > 0:
                    victim = max(daemons, key=lambda d: held[d.pid])
                    break
            time.sleep(0.05)
        assert victim is not None, "never half-way with a lease held"
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.process.wait(10)
        survivor = daemons[1] if victim is daemons[0] else daemons[0]
        (owner,) = _owner_of(connection, victim.pid) or [None]
        assert owner is not None
        held_rows = dict(_query(
            connection, "SELECT id, state FROM exchanges WHERE lease_owner = %s"
            " AND state <> ALL(%s)", owner, list(terminal),
        ))  # fmt: skip
        assert held_rows, "the killed daemon held no lease"
        done_at_kill = done

        # Recovery: no row is left leased to the dead daemon.
        recovered_at = None
        while time.monotonic() < killed_at + LEASE_SECONDS + POLL_SECONDS + 60:
            left = _query(connection, """SELECT count(*) FROM exchanges WHERE id = ANY(%s)
                AND lease_owner = %s AND state <> ALL(%s)""",
                list(held_rows), owner, list(terminal))[0][0]  # fmt: skip
            if left == 0:
                recovered_at = time.monotonic()
                break
            time.sleep(0.05)
        assert recovered_at is not None, "the dead daemon's leases were never taken over"
        time_to_recover = recovered_at - killed_at

        # The survivor finishes: every input terminal, every interchange sent and picked up,
        # every PO taken by the ERP, nothing left on the server or in the outbox.
        finished_at = None
        while time.monotonic() < killed_at + scaled(120, 300):
            state = _query(
                connection,
                """SELECT
                count(*) FILTER (WHERE channel = 'partner' AND direction = 'in'
                                 AND state = 'delivered'),
                count(*) FILTER (WHERE channel = 'erp' AND state = 'rendered'),
                count(*) FILTER (WHERE direction = 'out' AND state = 'sent'),
                count(*) FILTER (WHERE state <> ALL(%s))
                FROM exchanges WHERE id > %s""",
                list(terminal),
                before["last_id"],
            )[0]
            if (
                state == (files, files, 2 * files, 0)
                and len(amazon.received) - amazon_before >= 2 * files
                and len(erp.received) - erp_before >= files
                and not visible_files(server.home / "inbox")
                and not visible_files(home.processing)
            ):
                finished_at = time.monotonic()
                break
            time.sleep(0.1)
        assert finished_at is not None, f"the survivor did not finish: {state}"
        time.sleep(2 * POLL_SECONDS)  # two more polls: nothing else may appear
        consumers.stop.set()
        consumers.join(10)
        assert consumers.failure is None, consumers.failure
        send_failures = [
            r[0]
            for r in _query(
                connection, "SELECT detail FROM events WHERE kind = 'send_failed' ORDER BY id"
            )
        ]
        survivor.process.send_signal(signal.SIGTERM)
        assert survivor.process.wait(30) == 0, survivor.stderr()[-3000:]

    # -- exactly once -----------------------------------------------------------------------
    view = read_store(home.database_url)
    new = [e for e in view.exchanges if e.id > before["last_id"]]
    inbound = [e for e in new if e.channel == "partner" and e.direction == "in"]
    delivered_names = {e.file_name for e in inbound if e.state == "delivered"}
    lost = sum(1 for n in inbound_names if n not in delivered_names)
    twice = sum(c - 1 for c in Counter(e.file_name for e in inbound).values())
    assert len(inbound) == files
    exports = Counter(e.file_name for e in new if e.channel == "erp")
    lost += sum(1 for n in exported if exports[n] == 0)
    twice += sum(c - 1 for c in exports.values())
    assert {e.state for e in new if e.channel == "erp"} == {"rendered"}
    rendered = Counter((d.type, d.business_key) for d in view.documents
                       if d.type != "purchase_order")  # fmt: skip
    assert rendered == Counter(
        (TYPE_OF[kind], KEY_OF[kind].format(po=po)) for kind, po in exported.values()
    )
    children = Counter(e.parent_id for e in new if e.direction == "out")
    assert all(count == 1 for count in children.values()) and len(children) == 2 * files
    non_terminal = [e for e in view.exchanges if e.state not in TERMINAL_STATES]
    assert not non_terminal, non_terminal[:5]
    assert len(view.exchanges) == before["exchanges"] + 4 * files

    delivered = Counter(po for _name, po in erp.received[erp_before:])
    lost += sum(1 for po in incoming if delivered[po] == 0)
    twice += sum(c - 1 for c in delivered.values())
    assert set(delivered) == set(incoming)

    received = amazon.received[amazon_before:]
    by_isa13 = Counter((f.receiver, f.isa13) for f in amazon.received)
    twice += sum(c - 1 for c in by_isa13.values())
    keys = Counter((s.set_id, s.key) for f in received for s in f.sets)
    expected = Counter(("997", f"PO:{int(name[11:20])}") for name in inbound_names)
    expected.update((kind, KEY_OF[kind].format(po=po)) for kind, po in exported.values())
    lost += sum((expected - keys).values())
    twice += sum((keys - expected).values())
    outbox = sorted(p.name for p in (server.home / "outbox").iterdir())
    assert outbox == [], f"stale or unpicked files on the server: {outbox[:10]}"
    assert visible_files(server.home / "inbox") == []

    # -- control numbers per receiver -----------------------------------------------------------
    outbound = view.outbound()
    receivers = {i["receiver"] for i in outbound}
    out_of_order = 0
    for receiver in receivers:
        mine = sorted((i for i in outbound if i["receiver"] == receiver), key=lambda i: i["id"])
        isa13 = [int(i["isa13"]) for i in mine]
        gs06 = [int(g["gs06"]) for i in mine for g in i["groups"]]
        assert isa13 == list(range(1, len(isa13) + 1)), "ISA13 not 1..N in allocation order"
        assert sorted(gs06) == list(range(1, len(gs06) + 1)), "GS06 not unique 1..N"
        published = [int(f.isa13) for f in amazon.received if f.receiver == receiver]
        assert sorted(published) == isa13  # each one picked up exactly once
        out_of_order += sum(1 for a, b in itertools.pairwise(published) if b < a)
    assert len(outbound) == before["isa13"] + 2 * files

    # -- the daemons' logs ----------------------------------------------------------------------
    errors = {d.pid: d.errors() for d in daemons}
    tracebacks = count_tracebacks(*(d.stderr() for d in daemons))
    assert not any(errors.values()), errors
    battery.record(
        inputs, lost=lost, delivered_twice=twice, unhandled_exceptions=tracebacks,
        time_to_recover=round(time_to_recover, 3), database="postgresql",
        what=f"2 acorn run daemons, {files} SFTP 850 files + {files} ERP exports, "
        "one SIGKILLed half-way",
        recover_bound=LEASE_SECONDS + POLL_SECONDS + PASS_TOLERANCE,
        lease_seconds=LEASE_SECONDS, poll_seconds=POLL_SECONDS,
        leases_held_at_kill=len(held_rows),
        held_states=dict(Counter(held_rows.values())),
        inputs_done_at_kill=done_at_kill,
        seconds_before_kill=round(killed_at - started, 3),
        seconds_after_kill_to_finish=round(finished_at - killed_at, 3),
        send_failures=len(send_failures), send_failure_reasons=send_failures[:5],
        isa13_checked=len(outbound), isa13_published_out_of_order=out_of_order,
    )  # fmt: skip
    assert time_to_recover <= LEASE_SECONDS + POLL_SECONDS + PASS_TOLERANCE, time_to_recover
