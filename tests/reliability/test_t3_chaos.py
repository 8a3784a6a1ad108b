"""The chaos run of reliability.md T3: the real daemon (``acorn run``) SIGKILLed at random
while Amazon and the ERP keep working, on SQLite and on PostgreSQL.

The simulated Amazon (:class:`AmazonPartner`) drops 850 files into the folder the daemon
polls, picks up what the daemon publishes and answers it with 997s; the simulated ERP
(:class:`Erp`) takes the POs from its inbox and exports an 855, an 856 and an 810 for each.
Meanwhile the daemon is killed with SIGKILL every 0.5 to 3 s (seeded random delays) and
started again at once, with nothing done by hand in between: the killed process's leases
simply expire (a short ``lease_seconds``). After the last kill the daemon runs until the
gateway is drained (every queue empty on two polls in a row), then stops on SIGTERM.

The reconciler then counts what was lost and what was delivered twice: every input (each
850 file, each 997 from Amazon, each ERP export) in a terminal state exactly once; each PO
in the ERP exactly once; each of our interchanges at Amazon once by ISA13 and once by
business key (855 PO, 856 shipment, 810 invoice, 997 group); no ISA13 or GS06 allocated
twice; no row left in a non-terminal state; ``PRAGMA integrity_check`` = ok on SQLite;
and no traceback in the daemon's stderr (a SIGKILL leaves none: any is an exception that
escaped a job).
"""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.pipeline.pipeline_sim import (
    TERMINAL_STATES,
    AmazonPartner,
    Erp,
    GatewayHome,
    acorn_command,
    acorn_env,
    make_home,
    visible_files,
)
from tests.reliability.battery import Battery, count_tracebacks, scaled
from tests.reliability.reconcile import reconcile, sqlite_integrity

REPO = Path(__file__).resolve().parents[2]
POLL = 0.3  # seconds between the daemon's runs of each pipeline job
LEASE_SECONDS = 1.0  # a killed daemon's rows are free again this long after the kill
KILL_DELAY = (0.5, 3.0)  # seconds from a daemon ready to its SIGKILL (reliability.md T3)


class ChaosAmazon(AmazonPartner):
    """The simulated Amazon, keeping the name of every file it drops (each an input)."""

    def __init__(self, home: GatewayHome, *, seed: int) -> None:
        super().__init__(home, seed=seed)
        self.dropped: list[str] = []

    def drop(self, name: str, data: bytes) -> Path:
        self.dropped.append(name)
        return super().drop(name, data)


def chaos_home(root: Path, database_url: str) -> GatewayHome:
    """A gateway home on the folder transport with a fast schedule and a short lease; the
    daemon listens on a free port."""
    home = make_home(root, database_url, lease_seconds=LEASE_SECONDS)
    config = home.config.read_text(encoding="utf-8")
    config = config.replace("[gateway]\n", "[gateway]\nhttp_port = 0\n", 1)
    config = config.replace('transport = "folder"\n',
                            f'transport = "folder"\npoll_seconds = {POLL}\n', 1)  # fmt: skip
    config += f"""
[schedule]
process_seconds = {POLL}
outbox_seconds = {POLL}
send_seconds = {POLL}
clocks_seconds = 5
notify_seconds = 5
stop_deadline_seconds = 5
"""
    home.config.write_text(config, encoding="utf-8")
    return home


class Daemon:
    """``acorn run --config HOME`` as a subprocess, each run's stderr in its own file."""

    def __init__(self, home: GatewayHome, logs: Path) -> None:
        self.home = home
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.runs = 0
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> float:
        """Start the daemon; returns when it listens (its monotonic time)."""
        self.runs += 1
        log = (self.logs / f"run-{self.runs:03d}.log").open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            acorn_command("run", "--config", str(self.home.config)),
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO,
            env=acorn_env(ACORN_LOG_FORMAT="json"),
        )  # fmt: skip
        log.close()
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening on "), self.stderr()[-3000:]
        return time.monotonic()

    def kill(self) -> None:
        """SIGKILL, as a power cut for the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(30) == -signal.SIGKILL
        self.process.stdout.close()  # type: ignore[union-attr]

    def stop(self) -> int:
        """SIGTERM; the exit code (0: a clean stop)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self.process.stdout.close()  # type: ignore[union-attr]
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stderr(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in sorted(self.logs.glob("run-*.log")))  # fmt: skip


def escaped_exceptions(log: str) -> tuple[int, list[str]]:
    """Tracebacks in the daemon's stderr (JSON lines whose ``exception`` holds one, or plain
    text) and the jobs that failed; returns the count and a few of the events."""
    texts, failures = [], []
    for line in log.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            texts.append(line)
            continue
        if isinstance(event, dict):
            if event.get("exception"):
                texts.append(str(event["exception"]))
            if event.get("level") in ("error", "critical") or event.get("event") == "job_failed":
                failures.append(line[:2000])
    return max(count_tracebacks("\n".join(texts)), len(failures)), failures[:5]


class World:
    """Amazon, the ERP and what they are owed, around one gateway home."""

    def __init__(self, home: GatewayHome, seed: int) -> None:
        self.home = home
        self.amazon = ChaosAmazon(home, seed=seed)
        self.erp = Erp(home)
        self.rng = random.Random(seed)
        self.po_numbers: list[str] = []
        self.expected_keys: Counter[tuple[str, str]] = Counter()
        self.exported_for: set[str] = set()

    def send_orders(self, count: int) -> None:
        """Drop 850 interchanges holding ``count`` new POs (one or two each)."""
        while count > 0:
            sets = min(count, self.rng.choice((1, 1, 1, 2)))
            name, data, numbers = self.amazon.purchase_order_interchange(sets, max_lines=3)
            self.amazon.drop(name, data)
            self.po_numbers += numbers
            self.expected_keys[("997", f"PO:{int(name[11:20])}")] += 1
            for po in numbers:
                for key in (("855", po), ("856", f"SH{po}"), ("810", f"IN{po}")):
                    self.expected_keys[key] += 1
            count -= sets

    def step(self) -> None:
        """One round of the partners' own work: Amazon picks up and answers what it sees;
        the ERP takes its POs and exports their 855, 856 and 810 (once per PO)."""
        self.amazon.exchange()
        for order in self.erp.take_orders():
            if order.po_number not in self.exported_for:
                self.exported_for.add(order.po_number)
                self.erp.export_documents(order, motor=self.rng.random() < 0.3)


def busy_rows(engine: Engine) -> int:
    """Exchanges not yet in a terminal state, and POs not yet delivered."""
    terminal = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATES))
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT count(*) FROM exchanges WHERE state NOT IN ({terminal})")
        ).scalar_one()
        orders = connection.execute(text(
            "SELECT count(*) FROM documents WHERE type = 'purchase_order'"
            " AND state != 'delivered'")).scalar_one()  # fmt: skip
    return int(rows) + int(orders)


def idle(world: World, engine: Engine) -> bool:
    """Nothing waiting anywhere: every PO at the ERP and exported for, no file in any
    folder the gateway or the partners read, no row in a non-terminal state."""
    home = world.home
    folders = (home.to_us, home.from_us, home.erp_inbox, home.erp_outbox, home.processing)
    return (
        set(world.po_numbers) <= world.exported_for
        and not any(visible_files(f) for f in folders)
        and busy_rows(engine) == 0
    )


def drain(world: World, engine: Engine, daemon: Daemon, timeout: float) -> None:
    """Let the partners work until the gateway is idle on two polls in a row."""
    streak = 0
    deadline = time.monotonic() + timeout
    while streak < 2:
        assert time.monotonic() < deadline, f"not drained within {timeout} s"
        assert daemon.alive(), daemon.stderr()[-3000:]
        world.step()
        streak = streak + 1 if idle(world, engine) else 0
        time.sleep(POLL * 2)


def used_twice(engine: Engine) -> dict[str, int]:
    """Control numbers allocated to more than one of our outbound interchanges or groups."""
    with engine.connect() as connection:
        isa13 = connection.execute(
            text("SELECT receiver, control_number FROM interchanges WHERE direction = 'out'")
        ).all()
        gs06 = connection.execute(
            text(
                "SELECT i.receiver, g.functional_id, g.control_number FROM groups g"
                " JOIN interchanges i ON i.id = g.interchange_id WHERE i.direction = 'out'"
            )
        ).all()
    return {"ISA13": len(isa13) - len(set(map(tuple, isa13))),
            "GS06": len(gs06) - len({(r[0], r[2]) for r in gs06})}  # fmt: skip


def unacknowledged_groups(engine: Engine) -> int:
    """Our groups other than 997s that Amazon's 997 has not been matched to."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM groups g JOIN interchanges i ON i.id = g.interchange_id"
                    " WHERE i.direction = 'out' AND g.functional_id != 'FA'"
                    " AND (g.ack_status IS NULL OR g.ack_status != 'accepted')"
                )
            ).scalar_one()
        )


@pytest.mark.battery("T3")
def test_chaos_sigkill_at_random_loses_nothing_and_repeats_nothing(
    tmp_path: Path, databases: Callable[[], str], battery: Battery, request: pytest.FixtureRequest
) -> None:
    """The daemon killed with SIGKILL 25 times (3 at ci scale) at random moments while 300
    POs (30 at ci scale) flow in from Amazon and 855/856/810s flow out from the ERP; each
    restart is plain ``acorn run``. After the drain: nothing lost, nothing twice, no
    control number reused, no row left non-terminal, the SQLite file sound, no traceback."""
    kind = request.node.callspec.params["databases"]
    database_url = databases()
    orders, kills = scaled(30, 300), scaled(3, 25)
    rng = random.Random(3_000 + kills)
    home = chaos_home(tmp_path / "home", database_url)
    world = World(home, seed=rng.randrange(1 << 30))
    daemon = Daemon(home, tmp_path / "logs")
    engine = create_engine(database_url)
    batch = math.ceil(orders / kills)
    try:
        ready = daemon.start()
        for _kill in range(kills):
            world.send_orders(min(batch, orders - len(world.po_numbers)))
            due = ready + rng.uniform(*KILL_DELAY)
            while time.monotonic() < due:
                world.step()
                time.sleep(min(0.1, max(0.0, due - time.monotonic())))
            daemon.kill()
            world.step()  # the partners do not wait for the gateway to come back
            ready = daemon.start()
        restarted = ready
        drain(world, engine, daemon, timeout=scaled(120, 600))
        time_to_recover = time.monotonic() - restarted
        stopped = daemon.stop()
    finally:
        if daemon.alive():
            daemon.kill()
        engine.dispose()
    assert stopped == 0, daemon.stderr()[-3000:]
    world.step()

    figures = reconcile(home, partner_files=world.amazon.dropped, exports=world.erp.exported,
                        po_numbers=world.po_numbers, erp=world.erp,
                        amazon=world.amazon)  # fmt: skip
    keys = Counter((s.set_id, s.key) for f in world.amazon.received for s in f.sets)
    missing = sorted((world.expected_keys - keys).elements())
    engine = create_engine(database_url)
    try:
        reused = used_twice(engine)
        unacknowledged = unacknowledged_groups(engine)
    finally:
        engine.dispose()
    integrity = sqlite_integrity(database_url)
    escaped, failures = escaped_exceptions(daemon.stderr())
    leftovers = [p.name for f in (home.from_us, home.erp_inbox, home.processing)
                 for p in f.iterdir() if p.is_file()]  # fmt: skip
    problems = figures.problems + [f"lost: nothing of {k} reached Amazon" for k in missing[:20]]
    battery.record(
        figures.inputs,
        lost=figures.lost + len(missing) + figures.non_terminal,
        delivered_twice=figures.delivered_twice + sum(reused.values()),
        unhandled_exceptions=escaped,
        time_to_recover=round(time_to_recover, 2),
        what=f"{len(world.po_numbers)} POs, {kills} SIGKILLs of acorn run at 0.5-3 s, "
        f"{len(world.amazon.dropped)} partner files, {len(world.erp.exported)} ERP exports",
        database=kind,
        kills=kills,
        daemon_runs=daemon.runs,
        purchase_orders=len(world.po_numbers),
        interchanges_at_amazon=len(world.amazon.received),
        non_terminal=figures.non_terminal,
        control_numbers_reused=sum(reused.values()),
        integrity_check=integrity,
        problems=problems[:20],
        failures=failures,
    )
    assert integrity == "ok"
    assert unacknowledged == 0, "some 855/856/810 group was never matched to Amazon's 997"
    assert leftovers == [], f"half-written files left behind: {leftovers}"
    assert Counter(world.expected_keys) == keys
