"""Crash safety (reliability.md T3, G1, G2, G3, G7), on SQLite and on PostgreSQL.

For every named step of the pipeline (:data:`STEPS`, which must be every
``crashpoint("...")`` in gateway/), and for every place in a pass where that step is
reached, ``acorn process`` is killed with SIGKILL right there. Meanwhile the ERP takes
what is in its inbox and Amazon picks up (and answers) what it can see, as they would: a
file published a second time would be seen twice. Then ``acorn process`` runs again,
without the crash, once the dead process's leases have expired, until a pass does
nothing. Afterwards:

* every input (each file Amazon dropped, each ERP export) is in the store once, in the
  terminal state it deserves (G3);
* each PO reached the ERP exactly once, and nothing half-written is left in its inbox (G1,
  G2);
* each of our interchanges reached Amazon exactly once, by ISA13 and by business key
  (855 PO number, 856 shipment id, 810 invoice number, 997 group acknowledged) (G2);
* no ISA13 or GS06 was used twice (G7);
* no exchange and no PO is left in a non-terminal state, and the outbox ``processing/``
  folder is empty.

The scenario (:func:`build_scenario`) is small, so that one killed pass reaches every
step: Amazon's 997s for three 855s, two new 850s, a file that is not X12 and an 850 that
fails validation; and six ERP exports (856 and 810 for three POs) plus one invoice whose
total is a cent off. It is built once per database and copied for each case. Where a
step is reached several times, the pass is killed at the first call for each kind of
input (a PO delivered, a 997 matched, an export rejected...), found by tracing the pass.

The matrix is part of the reliability battery (T3): each case records its figures (inputs,
lost, delivered twice, the rerun's time until quiet). At the full scale
(``ACORN_BATTERY_SCALE=full``) each step runs at least three times (reliability.md: each
point x3): at other occurrences of the step where the pass reaches it more than once,
otherwise again at the same one.
"""

from __future__ import annotations

import copy
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bench.corpus import MUTANTS
from gateway import crashpoints
from gateway.store import Store
from tests.pipeline.pipeline_sim import (
    NON_TERMINAL_STATES,
    TERMINAL_STATES,
    AmazonPartner,
    Erp,
    GatewayHome,
    create_postgres_database,
    drop_postgres_database,
    make_home,
    process_here,
    process_until_quiet,
    read_store,
    run_acorn,
    visible_files,
)
from tests.reliability.battery import Battery, count_tracebacks, scale, scaled
from tests.reliability.reconcile import sqlite_integrity
from tests.web.test_as2_crash import AS2_STEPS

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"

#: Every step of the pipeline where a crash point is set, and what has happened there.
STEPS: dict[str, str] = {
    # inbound: from the partner's folder to terminal states
    "inbound.stored": "a partner file committed to the store, not yet removed at the partner",
    "inbound.removed": "a partner file removed at the partner after its commit",
    "inbound.validated": "an interchange validated and recorded, its 997 queued; not committed",
    "inbound.committed": "an inbound exchange committed (delivering/processed/rejected/...)",
    "outbound.numbers_allocated": "ISA13 and GS06 allocated (997 or export); not committed",
    # delivery of POs to the ERP inbox
    "delivery.staged": "a PO written to its hidden .part file in the inbox; row still pending",
    "delivery.marked_staged": "the PO row marked staged; the file not yet renamed",
    "delivery.published": "the PO file renamed into the inbox; row not yet delivered",
    # the ERP outbox
    "outbox.claimed": "an export renamed into processing/; not yet stored",
    "outbox.stored": "an export stored (committed); still in processing/",
    "outbound.before_commit": "an export rendered and its interchange queued; not committed",
    "outbound.committed": "an export committed rendered or rejected; still in processing/",
    "outbox.filed": "an export moved to archive/ or rejected/ (with its errors file)",
    # sending to the partner
    "send.staged": "an interchange staged as a hidden .part at the partner; row still queued",
    "send.marked_staged": "the outbound row marked staged; the file not yet renamed",
    "send.published": "the file renamed at the partner; the row not yet marked sent",
    # file primitives, wherever the pipeline uses them
    "files.mid_write": "half of a temporary or staged file written",
    "files.before_replace": "a temporary file fsync'd, not yet renamed over its target",
    "files.after_replace": "a temporary file renamed, its directory not yet fsync'd",
    "files.after_claim": "a file claimed into processing/, directories not yet fsync'd",
}

LEASE_SECONDS = 0.25  # one process at a time here: a short lease only shortens the wait


def test_the_steps_listed_are_every_crash_point_in_the_gateway() -> None:
    """A new crashpoint("...") in gateway/ must be added to STEPS (and so to the matrix),
    or, for AS2, to the AS2 crash tests' steps."""
    found: set[str] = set()
    for path in GATEWAY.rglob("*.py"):
        if path.name == "crashpoints.py":
            continue
        found |= set(re.findall(r"""crashpoint\(\s*["']([a-z0-9_.]+)["']\s*\)""",
                                path.read_text(encoding="utf-8")))  # fmt: skip
    assert found == set(STEPS) | set(AS2_STEPS)


# -- the scenario ----------------------------------------------------------------------------


@dataclass
class Scenario:
    """The world before the killed pass, and what must hold after the recovery."""

    home: GatewayHome
    amazon: AmazonPartner
    erp: Erp
    po_numbers: list[str] = field(default_factory=list)  # every PO to reach the ERP
    inbound: dict[str, str] = field(default_factory=dict)  # partner file -> final state
    exports: dict[str, str] = field(default_factory=dict)  # ERP export -> final state
    expected_keys: Counter[tuple[str, str]] = field(default_factory=Counter)


def build_scenario(home: GatewayHome) -> Scenario:
    """Two clean passes (3 POs delivered and acknowledged by 855s), then new input for the
    pass to be killed: something for every step."""
    world = Scenario(home, AmazonPartner(home, seed=31), Erp(home))
    amazon, erp = world.amazon, world.erp

    def send_850s(count: int, sets: int) -> None:
        for _ in range(count):
            name, data, pos = amazon.purchase_order_interchange(sets)
            amazon.drop(name, data)
            world.inbound[name] = "delivered"
            world.po_numbers += pos
            world.expected_keys[("997", f"PO:{int(name[11:20])}")] += 1

    # Pass 1: three POs (one interchange of two, one of one) in; 997s out.
    send_850s(1, sets=2)
    send_850s(1, sets=1)
    process_until_quiet(home)
    amazon.exchange()
    orders = erp.take_orders()
    # Pass 2: the ERP acknowledges them.
    for order in orders:
        world.exports[erp.export_documents(order, ["855"])[0]] = "rendered"
        world.expected_keys[("855", order.po_number)] += 1
    process_until_quiet(home)

    # Input of the pass to be killed.
    for received in amazon.pick_up():
        for name in _answer(amazon, received):
            world.inbound[name] = "processed"
    for i, order in enumerate(orders):
        for name in erp.export_documents(order, ["856", "810"], motor=i == 1):
            world.exports[name] = "rendered"
        world.expected_keys[("856", f"SH{order.po_number}")] += 1
        world.expected_keys[("810", f"IN{order.po_number}")] += 1
    off = erp.invoice(orders[0]).model_copy(
        update={"invoice_number": f"IX{orders[0].po_number}",
                "total": erp.invoice(orders[0]).total + Decimal("0.01")})  # fmt: skip
    world.exports[erp.export(erp.file_name("810", "cent-off"), off)] = "rejected"
    send_850s(2, sets=1)
    junk = amazon.drop("AMAZON_JUNK_000000001.edi", b"PDF-1.4 not an interchange\n")
    world.inbound[junk.name] = "quarantined"
    name, data, _pos = amazon.purchase_order_interchange(1)
    mutant = next(m for m in MUTANTS if m.name == "bad date in DTM02")
    amazon.drop(name, mutant.mutate(data.decode("ascii")).encode("ascii"))
    world.inbound[name] = "rejected"
    world.expected_keys[("997", f"PO:{int(name[11:20])}")] += 1
    return world


def _answer(amazon: AmazonPartner, received: object) -> list[str]:
    """Amazon's 997 for one picked-up file; returns the names dropped."""
    before = set(p.name for p in visible_files(amazon.home.to_us))
    amazon.acknowledge([received])  # type: ignore[list-item]
    return sorted(set(p.name for p in visible_files(amazon.home.to_us)) - before)


# -- the scenario, built once per database kind, copied for each case --------------------------


@dataclass
class Template:
    """A scenario built once (on SQLite or PostgreSQL); each case runs on a copy."""

    kind: str
    world: Scenario
    database: str | None  # the PostgreSQL database's name


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Template]:
    kind = request.param
    root = tmp_path_factory.mktemp(f"template-{kind}")
    name = None
    if kind == "sqlite":
        url = f"sqlite:///{root / 'acorn.db'}"
    else:
        name, url = create_postgres_database()
    try:
        home = make_home(root / "home", url, lease_seconds=LEASE_SECONDS)
        yield Template(kind, build_scenario(home), name)
    finally:
        if name is not None:
            drop_postgres_database(name)


@contextmanager
def copy_of(template: Template, root: Path) -> Iterator[Scenario]:
    """The template's world under ``root``: its database (a file copy, or a PostgreSQL
    database made from it), its folders and its simulators; the database is dropped after."""
    name = None
    if template.kind == "sqlite":
        source = Path(template.world.home.database_url.removeprefix("sqlite:///"))
        root.mkdir(parents=True)
        for path in source.parent.glob(source.name + "*"):  # the database, its WAL if any
            shutil.copy2(path, root / path.name)
        url = f"sqlite:///{root / source.name}"
    else:
        name, url = create_postgres_database(template=template.database)
    try:
        home = make_home(root / "home", url, lease_seconds=LEASE_SECONDS)
        for folder in ("partner", "erp"):
            shutil.copytree(template.world.home.root / folder, home.root / folder,
                            dirs_exist_ok=True, symlinks=True)  # fmt: skip
        world = copy.deepcopy(template.world)
        world.home = world.amazon.home = world.erp.home = home
        yield world
    finally:
        if name is not None:
            drop_postgres_database(name)


# -- where each step is reached in the killed pass ---------------------------------------------


def _site(outcomes: dict[str, str]) -> str:
    """Where the current crashpoint() call is: ``<pipeline step>/<innermost pipeline
    function>:<line> [<subject>]``, the subject being what is handled there: the final
    state due to the input file (``outcomes``), ``po`` for a PO delivery, or the kind of
    an outbound interchange being sent (``out:ack``, ``out:document``)."""
    frame = sys._getframe(2)
    inner = step = subject = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("gateway.pipeline.") and module != "gateway.pipeline.run":
            if inner is None:
                inner = f"{frame.f_code.co_name}:{frame.f_lineno}"
            if subject is None:
                subject = _subject(frame.f_locals, outcomes)
            if frame.f_back is not None and frame.f_back.f_code.co_name == "run_once":
                step = frame.f_code.co_name
        frame = frame.f_back
    return f"{step}/{inner} [{subject}]"


def _subject(local: dict[str, object], outcomes: dict[str, str]) -> str | None:
    document = local.get("document")
    if getattr(document, "delivery_name", None) is not None:
        return "po"
    exchange = local.get("exchange")
    if getattr(exchange, "direction", None) == "out":
        return f"out:{exchange.kind}"  # type: ignore[union-attr]
    for key in ("item", "exchange", "path", "name"):
        value = local.get(key)
        name = getattr(value, "file_name", None) or getattr(value, "name", None) or value
        if isinstance(name, str) and name in outcomes:
            return outcomes[name]
    return None


@pytest.fixture(scope="module")
def crash_calls(
    template: Template, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    """For each step, the site of every call the killed pass makes to it, in order (the
    n-th call's site at index n - 1). Found by running the pass once, on a copy of the
    scenario, with every crash point recording."""
    with copy_of(template, tmp_path_factory.mktemp("trace") / "copy") as world:
        return _trace(world)


@pytest.fixture(scope="module")
def crash_sites(crash_calls: dict[str, list[str]]) -> dict[str, list[tuple[int, str]]]:
    """For each step, every place and subject the killed pass reaches it at: (n-th call,
    site), the first call of each."""
    sites: dict[str, list[tuple[int, str]]] = {}
    for name, found in crash_calls.items():
        for nth, site in enumerate(found, start=1):
            if site not in [s for _n, s in sites.get(name, [])]:
                sites.setdefault(name, []).append((nth, site))
    return sites


def _trace(world: Scenario) -> dict[str, list[str]]:
    home = world.home
    outcomes = {**world.inbound, **world.exports}
    calls: dict[str, list[str]] = {}

    def record(name: str) -> None:
        calls.setdefault(name, []).append(_site(outcomes))

    patched = [m for m in list(sys.modules.values())
               if m is not None and m.__name__.startswith("gateway.")
               and getattr(m, "crashpoint", None) is crashpoints.crashpoint]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        for module in patched:
            mp.setattr(module, "crashpoint", record)
        process_here(home)
    return calls


def crash_runs(sites: list[tuple[int, str]], calls: list[str], runs: int) -> list[tuple[int, str]]:
    """The kills of one step: the first call at each site, then (up to ``runs`` in all)
    later calls, taking the sites in turn (the 2nd call at each, then the 3rd...), then the
    same calls again (marked ``again``) where the pass reaches the step too few times."""
    chosen = list(sites)
    later: list[list[int]] = [[n for n, s in enumerate(calls, start=1) if s == site and n != first]
                              for first, site in sites]  # fmt: skip
    while len(chosen) < runs and any(later):
        for found in later:
            if found and len(chosen) < runs:
                nth = found.pop(0)
                chosen.append((nth, calls[nth - 1]))
    again = 0
    while len(chosen) < runs:
        nth, site = chosen[again % len(sites)]
        chosen.append((nth, f"{site} again"))
        again += 1
    return chosen


# -- the matrix ------------------------------------------------------------------------------


def _matrix() -> list[Any]:
    """The (step, database) cases: every step on both databases at the full scale (three runs
    each); at the CI scale every step once on one of the two, alternating in step order, so
    each database gets half the steps and the battery's CI subset stays within 5 minutes
    (issue 11; ``make reliability`` runs them all)."""
    kinds = ("sqlite", "postgresql")
    steps = sorted(STEPS)
    pairs = ([(s, k) for s in steps for k in kinds] if scale() == "full"
             else [(s, kinds[i % 2]) for i, s in enumerate(steps)])  # fmt: skip
    return [pytest.param(s, k, id=f"{s}-{k}") for s, k in pairs]


@pytest.mark.battery("T3")
@pytest.mark.parametrize(("step", "template"), _matrix(), indirect=["template"])
def test_killed_at_each_step_a_rerun_loses_nothing_and_repeats_nothing(
    step: str,
    template: Template,
    crash_sites: dict[str, list[tuple[int, str]]],
    crash_calls: dict[str, list[str]],
    tmp_path: Path,
    battery: Battery,
) -> None:
    """``acorn process`` SIGKILLed at the step (at each place the pass reaches it; three
    times or more at full scale), then run again once the leases expired: every input
    once in its terminal state, nothing lost, nothing twice, the SQLite file sound."""
    assert step in crash_sites, f"the scenario never reaches {step}: {STEPS[step]}"
    runs = crash_runs(crash_sites[step], crash_calls[step], scaled(1, 3))
    for case, (nth, site) in enumerate(runs):
        with copy_of(template, tmp_path / f"case-{case}") as world:
            home = world.home
            killed = run_acorn("process", "--config", str(home.config), timeout=120,
                               ACORN_CRASHPOINT=f"{step}:{nth}")  # fmt: skip
            assert killed.returncode == -signal.SIGKILL, (
                f"{step}:{nth} at {site} did not kill the pass: rc={killed.returncode}"
                f" {killed.stdout} {killed.stderr}"
            )
            # The ERP and Amazon do not wait for the gateway to recover: they take what
            # is visible (and Amazon answers it), so a file published again would show.
            _consume(world)
            _wait_for_leases(home)
            started = time.monotonic()
            process_until_quiet(home)
            recovered = time.monotonic() - started
            where = f"{step}:{nth} at {site}"
            lost, twice, problems = count_faults(world)
            battery.record(
                len(world.inbound) + len(world.exports), lost=lost, delivered_twice=twice,
                unhandled_exceptions=count_tracebacks(killed.stdout, killed.stderr),
                time_to_recover=round(recovered, 3), what=f"killed at {where}",
                database=template.kind, problems=problems[:10],
            )  # fmt: skip
            check_invariants(world, where)


def count_faults(world: Scenario) -> tuple[int, int, list[str]]:
    """What a recovered world lost and did twice, counted (``check_invariants`` then says
    in detail what else is wrong): an input not stored in the final state it deserves, a
    row or PO left non-terminal, a PO never at the ERP, a business key never at Amazon are
    lost; an input stored twice, a PO at the ERP twice, an ISA13 or business key at Amazon
    twice, an ISA13 or GS06 allocated twice are delivered twice."""
    view = read_store(world.home.database_url)
    world.erp.take_orders()
    world.amazon.pick_up()
    problems: list[str] = []
    lost = twice = 0
    for channel, wanted in (("partner", world.inbound), ("erp", world.exports)):
        stored = [e for e in view.exchanges if e.channel == channel and e.direction == "in"]
        count = Counter(e.file_name for e in stored)
        states = {e.file_name: e.state for e in stored}
        for name, state in wanted.items():
            if states.get(name) != state:
                lost += 1
                problems.append(f"lost: {name} is {states.get(name)}, not {state}")
            if count[name] > 1:
                twice += count[name] - 1
                problems.append(f"twice: {name} stored {count[name]} times")
    stuck = [e for e in view.exchanges
             if e.state not in TERMINAL_STATES or e.state in NON_TERMINAL_STATES]  # fmt: skip
    stuck_orders = [d for d in view.documents
                    if d.type == "purchase_order" and d.state != "delivered"]  # fmt: skip
    lost += len(stuck) + len(stuck_orders)
    problems += [f"lost: exchange {e.id} {e.file_name} left {e.state}" for e in stuck]
    at_erp = Counter(po for _name, po in world.erp.received)
    for po in world.po_numbers:
        lost += at_erp[po] == 0
        twice += max(0, at_erp[po] - 1)
    keys = Counter((s.set_id, s.key) for f in world.amazon.received for s in f.sets)
    for key, expected in world.expected_keys.items():
        lost += max(0, expected - keys[key])
        twice += max(0, keys[key] - expected)
    isa13 = Counter((f.receiver, f.isa13) for f in world.amazon.received)
    twice += sum(n - 1 for n in isa13.values())
    sent = [i["isa13"] for i in view.outbound()]
    gs06 = [g["gs06"] for i in view.outbound() for g in i["groups"]]
    twice += len(sent) - len(set(sent)) + len(gs06) - len(set(gs06))
    return lost, twice, problems


def _consume(world: Scenario) -> None:
    """The ERP takes the PO files in its inbox; Amazon picks up and answers ours."""
    world.erp.take_orders()
    for received in world.amazon.pick_up():
        for name in _answer(world.amazon, received):
            world.inbound[name] = "processed"


def _wait_for_leases(home: GatewayHome) -> None:
    """Wait until the killed process's leases have expired (no longer: the rerun must
    need no manual step, only the lease's expiry)."""
    store = Store(home.database_url)
    try:
        with store.transaction() as tx:
            latest = tx._s.execute(text(
                "SELECT MAX(lease_expires_at) FROM exchanges WHERE lease_owner IS NOT NULL"
            )).scalar()  # fmt: skip
    finally:
        store.dispose()
    if latest is not None:
        if isinstance(latest, str):  # SQLite hands raw text to a text() query
            latest = datetime.fromisoformat(latest)
        delay = (latest - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
        time.sleep(max(0.0, delay) + 0.05)


def check_invariants(world: Scenario, where: str) -> None:
    """Everything that must hold once the gateway is idle again after a crash."""
    home, amazon, erp = world.home, world.amazon, world.erp
    view = read_store(home.database_url)
    assert sqlite_integrity(home.database_url) == "ok", where

    # No row left in a non-terminal state; every PO delivered.
    stuck = [(e.id, e.kind, e.file_name, e.state) for e in view.exchanges
             if e.state not in TERMINAL_STATES or e.state in NON_TERMINAL_STATES]  # fmt: skip
    assert not stuck, f"{where}: left behind {stuck}"
    assert {d.state for d in view.documents if d.type == "purchase_order"} == {"delivered"}

    # Every input once, in its terminal state.
    inbound = [e for e in view.exchanges if e.channel == "partner" and e.direction == "in"]
    assert Counter(e.file_name for e in inbound) == Counter(list(world.inbound)), where
    assert {e.file_name: e.state for e in inbound} == world.inbound, where
    exports = [e for e in view.exchanges if e.channel == "erp"]
    assert Counter(e.file_name for e in exports) == Counter(list(world.exports)), where
    assert {e.file_name: e.state for e in exports} == world.exports, where
    assert visible_files(home.to_us) == []
    assert visible_files(home.erp_outbox) == []

    # Each PO reached the ERP exactly once; nothing half-written left in the inbox.
    erp.take_orders()
    assert Counter(po for _name, po in erp.received) == Counter(world.po_numbers), where
    assert list(home.erp_inbox.iterdir()) == [], where

    # Each of our interchanges reached Amazon exactly once, by ISA13 and by business key.
    amazon.pick_up()
    received_isa13 = [f.isa13 for f in amazon.received]
    assert len(received_isa13) == len(set(received_isa13)), f"{where}: {received_isa13}"
    outbound = [e for e in view.exchanges if e.channel == "partner" and e.direction == "out"]
    assert {e.state for e in outbound} == {"sent"}
    sent_isa13 = [i["isa13"] for i in view.outbound()]
    assert sorted(received_isa13) == sorted(sent_isa13), where
    keys = Counter((s.set_id, s.key) for f in amazon.received for s in f.sets)
    assert keys == world.expected_keys, where
    assert list(home.from_us.iterdir()) == [], f"{where}: a staged file left at the partner"

    # No control number used twice.
    assert len(sent_isa13) == len(set(sent_isa13)), where
    gs06 = [g["gs06"] for i in view.outbound() for g in i["groups"]]
    assert len(gs06) == len(set(gs06)), where
    assert max(int(n) for n in sent_isa13) <= view.counters["amazon.isa13"]
    assert max(int(n) for n in gs06) <= view.counters["amazon.gs06"]

    # The outbox: processing/ empty, good exports archived, the bad one rejected with its
    # errors file; the 855s acknowledged by Amazon's 997s.
    assert list(home.processing.iterdir()) == [], where
    good = sorted(n for n, s in world.exports.items() if s == "rendered")
    bad = sorted(n for n, s in world.exports.items() if s == "rejected")
    assert [p.name for p in visible_files(home.archive)] == good, where
    assert [p.name for p in visible_files(home.rejected)] == sorted(
        [*bad, *(f"{n}.errors.json" for n in bad)]
    ), where
    acks = {g["ack"] for i in view.outbound() for g in i["groups"] if g["gs01"] == "PR"}
    assert acks == {"accepted"}, where


def test_the_scenario_without_a_crash_meets_the_same_invariants(
    template: Template, tmp_path: Path
) -> None:
    """The baseline: the invariants hold after an uninterrupted pass."""
    with copy_of(template, tmp_path / "case") as world:
        first = process_here(world.home)
        assert first["files_received"] == 7 and first["exports_received"] == 7
        assert first["orders_delivered"] == 2 and first["exports_queued"] == 6
        # 997s for two 850s and the invalid one, three 856s and three 810s.
        assert first["interchanges_sent"] == 9
        _consume(world)
        process_until_quiet(world.home)
        check_invariants(world, "no crash")


def _iter_sites(sites: dict[str, list[tuple[int, str]]]) -> Iterator[str]:
    for name, found in sorted(sites.items()):
        for nth, site in found:
            yield f"{name}:{nth} {site}"


def test_every_step_is_reached_by_the_scenario(
    crash_sites: dict[str, list[tuple[int, str]]],
) -> None:
    """The killed pass reaches every step, at the places expected (the matrix covers them)."""
    assert set(crash_sites) == set(STEPS)
    places = list(_iter_sites(crash_sites))
    # Files are written in three places: POs to the ERP, errors files, files to Amazon.
    assert {s.split()[1].split(":")[0] for s in places if s.startswith("files.mid_write")} == {
        "deliver/_deliver_exchange", "render_exports/_file_away", "send/send",
    }  # fmt: skip
    # Control numbers are allocated for 997s and for exports.
    assert {s.split()[1].split("/")[0] for s in places
            if s.startswith("outbound.numbers_allocated")} == {"process_received",
                                                               "render_exports"}  # fmt: skip
    # An interchange is validated on the quarantine path and on the normal one.
    assert len({s.split()[1].split(" ")[0] for s in places
                if s.startswith("inbound.validated")}) == 2  # fmt: skip
    # Every kind of input meets the steps that handle it.
    subjects = {step: {s.rsplit("[", 1)[1].rstrip("]") for s in places if s.startswith(step)}
                for step in STEPS}  # fmt: skip
    assert subjects["inbound.stored"] == {"delivered", "processed", "rejected", "quarantined"}
    assert subjects["outbound.committed"] == {"rendered", "rejected"}
    assert subjects["send.published"] == {"out:ack", "out:document"}
    assert subjects["outbound.numbers_allocated"] == {"delivered", "rejected", "rendered"}
