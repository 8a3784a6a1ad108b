"""T10, clock skew (reliability.md section 4: "faketime +-15 min ... skew never crashes the
daemon or mis-orders control numbers").

The real daemon (``acorn run``) runs in phases, each under libfaketime with the wall clock
moved by -15, +15 or 0 minutes (Debian's ``faketime``; the monotonic clock is left alone, as
NTP does), so the gateway sees its clock jump back and forth between restarts while Amazon
keeps sending 850s and the ERP keeps exporting 855s, 856s and 810s. Afterwards: every daemon
stopped cleanly on SIGTERM with no traceback, every input is in a terminal state once, every
PO reached the ERP once and every interchange reached Amazon once, and the control numbers
follow allocation order (ISA13 and GS06 exactly 1..N by the order the interchanges were
stored), whatever the clock said.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.pipeline.pipeline_sim import (
    NON_TERMINAL_STATES,
    AmazonPartner,
    Erp,
    GatewayHome,
    acorn_command,
    acorn_env,
    read_store,
    visible_files,
)
from tests.reliability.battery import Battery, count_tracebacks, scaled
from tests.reliability.reconcile import reconcile, sqlite_integrity

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
#: The clock of each phase, as libfaketime offsets.
PHASES = ["-15m", "+15m", "+0"] if scaled(1, 2) == 1 else [
    "-15m", "+15m", "+0", "+15m", "-15m", "+0"]  # fmt: skip
PHASE_POS = scaled(3, 10)
OFFSET_SECONDS = {"-15m": -900, "+15m": 900, "+0": 0}


def _faketime() -> Path:
    if LIBFAKETIME.is_file():
        return LIBFAKETIME
    if os.environ.get("CI") == "true":
        pytest.fail(f"{LIBFAKETIME} is missing (Debian package faketime; .ci/run installs it)")
    pytest.skip("libfaketime is not installed (apt-get install faketime)")


def _daemon_config(home: GatewayHome) -> None:
    text = home.config.read_text(encoding="utf-8")
    text = text.replace("[gateway]\n", "[gateway]\nhttp_port = 0\n", 1)
    text = text.replace('transport = "folder"\n', 'transport = "folder"\npoll_seconds = 0.2\n', 1)
    text += ("\n[schedule]\nprocess_seconds = 0.2\noutbox_seconds = 0.2\nsend_seconds = 0.2\n"
             "stop_deadline_seconds = 5\n")  # fmt: skip
    home.config.write_text(text, encoding="utf-8")


def _run_phase(home: GatewayHome, offset: str, work: Callable[[], bool]) -> tuple[int, str, float]:
    """``acorn run`` with the wall clock at ``offset`` until ``work()`` says done (or 60 s);
    then SIGTERM; returns (exit code, stderr, seconds). The log goes to a file: a pipe
    nobody reads fills up and blocks the daemon's logging."""
    env = acorn_env(LD_PRELOAD=str(_faketime()), FAKETIME=offset, DONT_FAKE_MONOTONIC="1",
                    ACORN_LOG_FORMAT="json")  # fmt: skip
    started = time.monotonic()
    log = home.root / f"run{offset}-{time.monotonic_ns()}.log"
    with log.open("w") as stderr:
        daemon = subprocess.Popen(acorn_command("run", "--config", str(home.config)), env=env,
                                  stdout=subprocess.PIPE, stderr=stderr,
                                  text=True)  # fmt: skip
        try:
            assert daemon.stdout is not None
            first = daemon.stdout.readline()
            assert first.startswith("listening on "), log.read_text()
            deadline = time.monotonic() + 60
            while not work():
                assert time.monotonic() < deadline, f"phase {offset}: not drained within 60 s"
                time.sleep(0.2)
            daemon.send_signal(signal.SIGTERM)
            daemon.communicate(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    return daemon.returncode, log.read_text(), time.monotonic() - started


@pytest.mark.battery("T10")
def test_the_daemon_under_a_clock_skewed_by_15_minutes_both_ways_keeps_order_and_counts(
    gateway_home: GatewayHome, battery: Battery
) -> None:
    """Phases of ``acorn run`` at -15 min, +15 min and the true time, with traffic in each:
    no crash, nothing lost or doubled, control numbers in allocation order."""
    _faketime()
    assert shutil.which("faketime") or LIBFAKETIME.is_file()
    home = gateway_home
    _daemon_config(home)
    amazon, erp = AmazonPartner(home, seed=1015), Erp(home)
    partner_files: list[str] = []
    exports: list[str] = []
    pos: list[str] = []
    errors: list[str] = []
    codes: list[int] = []
    phase_seconds: list[float] = []
    for index, offset in enumerate(PHASES):
        before = {p.name for p in home.to_us.iterdir()}
        pos += amazon.send_purchase_orders(PHASE_POS, max_lines=2)
        partner_files += sorted({p.name for p in home.to_us.iterdir()} - before)
        expected_orders = len(pos)

        def work(expected: int = expected_orders, phase: int = index,
                 skew: int = OFFSET_SECONDS[offset]) -> bool:
            # The ERP answers each PO it takes with an 855 (and the first phase's with an
            # 856 and an 810 too); Amazon answers what it picks up. Done when every PO of
            # this phase is in and nothing is left to send or answer.
            for order in erp.take_orders():
                kinds = ["855", "856", "810"] if phase == 0 else ["855"]
                exports.extend(erp.export_documents(order, kinds))
            answered = amazon.exchange()
            # The folders are local: their files' times come from the machine's clock, the
            # one the gateway sees (libfaketime moves it for the gateway process only).
            for path in visible_files(home.to_us) + visible_files(home.erp_outbox):
                with contextlib.suppress(FileNotFoundError):
                    os.utime(path, (time.time() + skew,) * 2)
            view = read_store(home.database_url)
            busy = any(e.state in NON_TERMINAL_STATES for e in view.exchanges)
            return (len(erp.received) >= expected and not answered and not busy
                    and not visible_files(home.to_us) and not visible_files(home.erp_outbox))

        known = {e.id for e in read_store(home.database_url).exchanges} if index else set()
        code, err, seconds = _run_phase(home, offset, work)
        # The skew was real: rows this phase created carry the gateway's moved clock.
        real = datetime.now(UTC).replace(tzinfo=None)
        created = [e.created_at for e in read_store(home.database_url).exchanges
                   if e.id not in known]  # fmt: skip
        skew = OFFSET_SECONDS[offset]
        assert created and all(abs((c - real).total_seconds() - skew) < 120 for c in created)
        codes.append(code)
        errors.append(err)
        phase_seconds.append(round(seconds, 1))

    tracebacks = count_tracebacks(*errors)
    assert codes == [0] * len(PHASES), (codes, errors[-1][-2000:])
    result = reconcile(home, partner_files=partner_files, exports=exports, po_numbers=pos,
                       erp=erp, amazon=amazon)  # fmt: skip
    assert result.non_terminal == 0, result.problems
    assert sqlite_integrity(home.database_url) == "ok"
    view = read_store(home.database_url)
    outbound = sorted(view.outbound(), key=lambda i: i["id"])  # allocation order
    isa13 = [int(i["isa13"]) for i in outbound]
    gs06 = [int(g["gs06"]) for i in outbound for g in i["groups"]]
    assert isa13 == list(range(1, len(outbound) + 1)), isa13
    assert gs06 == list(range(1, len(gs06) + 1)), gs06
    assert len(amazon.received) == len(outbound)
    battery.record(result.inputs, lost=result.lost, delivered_twice=result.delivered_twice,
                   unhandled_exceptions=tracebacks + sum(c != 0 for c in codes),
                   what=f"850s and exports over {len(PHASES)} daemon runs at "
                        f"{', '.join(PHASES)}",
                   interchanges_sent=len(outbound), pos=len(pos),
                   phase_seconds=" ".join(map(str, phase_seconds)),
                   problems=json.dumps(result.problems[:3]))  # fmt: skip
