"""Two gateways on one database (reliability.md T13, G2, G7).

Two ``acorn process`` loops, started together, each running passes until two consecutive
passes do nothing, share 500 inbound 850 files and 500 ERP exports (an 855, an 856 or an
810 for 500 POs prepared beforehand; 100 and 100 at the battery's CI scale). Each inbound
file is stored and processed exactly once, each export rendered exactly once, each PO
delivered once, each outbound interchange published once, and the control numbers are
exactly 1..N, none used twice (PostgreSQL, the database for several instances).

Races between two instances that the loops hit only by chance are replayed step by step
in one process, on both databases.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_config
from gateway.pipeline import Pipeline, delivery, outbound
from gateway.pipeline.delivery import deliver
from gateway.pipeline.inbound import pick_up, process_received
from gateway.pipeline.outbound import collect_exports, render_exports
from gateway.store import Store
from tests.pipeline.pipeline_sim import (
    NON_TERMINAL_STATES,
    AmazonPartner,
    Erp,
    GatewayHome,
    make_home,
    process_loop,
    process_until_quiet,
    read_store,
    visible_files,
)
from tests.reliability.battery import Battery, count_tracebacks, scaled

FILES = scaled(100, 500)
KINDS = ("855", "856", "810")
KEY_OF = {"855": "{po}", "856": "SH{po}", "810": "IN{po}"}
TYPE_OF = {"855": "po_acknowledgment", "856": "ship_notice", "810": "invoice"}
LOOP_TIMEOUT = 420  # seconds per loop; a pass that hangs fails the test, never blocks it


@pytest.mark.battery("T13")
def test_two_process_loops_on_one_postgresql_handle_each_file_exactly_once(
    tmp_path: Path, postgresql_url: str, battery: Battery
) -> None:
    """Two ``acorn process`` loops started together on one PostgreSQL database share 500
    850 files and 500 ERP exports: each handled exactly once, the work really shared, the
    control numbers exactly 1..N (reliability.md T13 without a kill)."""
    home = make_home(tmp_path / "home", postgresql_url)
    amazon, erp = AmazonPartner(home, seed=13), Erp(home)

    # The 500 POs the exports answer, prepared by one process (ten per interchange).
    amazon.send_purchase_orders(FILES // 10, sets=10, max_lines=2)
    process_until_quiet(home)
    prepared_acks = amazon.pick_up()
    orders = erp.take_orders()
    assert len(orders) == FILES and len(prepared_acks) == FILES // 10
    view = read_store(home.database_url)
    before = {"exchanges": len(view.exchanges), "isa13": view.counters["amazon.isa13"]}

    # 500 new 850 files in, 500 exports out.
    incoming = amazon.send_purchase_orders(FILES, max_lines=2)
    inbound_names = [p.name for p in visible_files(home.to_us)]
    exported: dict[str, tuple[str, str]] = {}  # file -> (set, PO)
    for i, order in enumerate(orders):
        kind = KINDS[i % 3]
        (name,) = erp.export_documents(order, [kind], motor=i % 2 == 0)
        exported[name] = (kind, order.po_number)
    assert len(inbound_names) == FILES and len(exported) == FILES

    # Two loops, started together.
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def loop(index: int) -> None:
        start.wait()
        try:
            results[index] = process_loop(home, timeout=LOOP_TIMEOUT)
        except Exception as exc:  # a timeout: reported below with the other loop's result
            results[index] = exc

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LOOP_TIMEOUT + 30)
    assert not any(t.is_alive() for t in threads), "a loop did not finish"
    seconds = time.monotonic() - started

    totals: Counter[str] = Counter()
    worked = []
    for runs in results:
        assert isinstance(runs, list), runs
        for run in runs:
            assert run.returncode == 0, run.stderr
        figures = [json.loads(run.stdout) for run in runs]
        assert len(figures) >= 2 and not any(figures[-1].values()) and not any(
            figures[-2].values()
        ), figures  # each loop ended on two passes that did nothing
        loop_totals = Counter()
        for f in figures:
            loop_totals.update(f)
        worked.append(sum(loop_totals.values()))
        totals.update(loop_totals)
    assert totals["files_received"] == FILES
    assert totals["interchanges_processed"] == FILES
    assert totals["orders_delivered"] == FILES
    assert totals["exports_received"] == FILES
    assert totals["exports_queued"] == FILES
    assert totals["interchanges_sent"] == 2 * FILES
    assert all(worked), f"one loop did nothing: {worked}"  # the work was really shared

    view = read_store(home.database_url)
    # Each inbound file stored once and processed to delivered.
    inbound = Counter((e.file_name, e.state) for e in view.exchanges
                      if e.channel == "partner" and e.direction == "in")  # fmt: skip
    for name in inbound_names:
        assert inbound[(name, "delivered")] == 1, name
    # Each export stored once and rendered once, to one document and one interchange.
    exports = {e.file_name: e for e in view.exchanges if e.channel == "erp"}
    assert len([e for e in view.exchanges if e.channel == "erp"]) == FILES
    assert {exports[name].state for name in exported} == {"rendered"}
    rendered = Counter((d.type, d.business_key) for d in view.documents
                       if d.type != "purchase_order")  # fmt: skip
    assert rendered == Counter(
        (TYPE_OF[kind], KEY_OF[kind].format(po=po)) for kind, po in exported.values()
    )
    children = Counter(e.parent_id for e in view.exchanges if e.direction == "out")
    assert all(children[exports[name].id] == 1 for name in exported)
    assert not NON_TERMINAL_STATES & {e.state for e in view.exchanges}
    assert len(view.exchanges) == before["exchanges"] + 4 * FILES

    # Each PO delivered to the ERP once.
    erp.take_orders()
    delivered = Counter(po for _name, po in erp.received[FILES:])
    assert delivered == Counter(incoming)
    assert list(home.erp_inbox.iterdir()) == []

    # Each outbound interchange published once; control numbers exactly 1..N.
    received = amazon.pick_up()
    assert len(received) == 2 * FILES
    keys = Counter((s.set_id, s.key) for f in received for s in f.sets)
    expected = Counter(("997", f"PO:{int(name[11:20])}") for name in inbound_names)
    expected.update((kind, KEY_OF[kind].format(po=po)) for kind, po in exported.values())
    assert keys == expected
    outbound = view.outbound()
    isa13 = sorted(int(i["isa13"]) for i in outbound)
    gs06 = sorted(int(g["gs06"]) for i in outbound for g in i["groups"])
    total = before["isa13"] + 2 * FILES
    assert isa13 == list(range(1, total + 1))  # none lost, none used twice
    assert gs06 == list(range(1, total + 1))
    assert sorted(int(f.isa13) for f in prepared_acks + received) == isa13
    assert Counter(view.sent_order) == Counter(i["exchange_id"] for i in outbound)
    assert set(Counter(view.sent_order).values()) == {1}
    assert list(home.from_us.iterdir()) == []
    stored = Counter(e.file_name for e in view.exchanges if e.direction == "in")
    battery.record(
        2 * FILES,
        lost=sum(1 for n in inbound_names if inbound[(n, "delivered")] == 0)
        + sum(1 for n in exported if n not in exports),
        delivered_twice=sum(c - 1 for c in stored.values())
        + sum(c - 1 for c in delivered.values())
        + sum(c - 1 for c in Counter((f.receiver, f.isa13) for f in received).values()),
        unhandled_exceptions=count_tracebacks(*(r.stderr for runs in results for r in runs)),
        database="postgresql",
        what=f"2 acorn process loops, {FILES} 850 files + {FILES} ERP exports, no kill",
        seconds=round(seconds, 3),
        passes=[len(runs) for runs in results],
        work_per_loop=worked,
        isa13_checked=len(isa13),
    )


def test_an_export_filed_away_by_the_other_instance_mid_scan_is_skipped(
    gateway_home: GatewayHome,
) -> None:
    """Instance B lists ``processing/``; instance A renders and files the export away before
    B reads it. B's pass goes on (no crash, G3) and nothing is stored or sent twice (G2)."""
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=14), Erp(home)
    amazon.send_purchase_orders(1)
    process_until_quiet(home)
    amazon.pick_up()
    (order,) = erp.take_orders()
    (name,) = erp.export_documents(order, ["855"])

    config = load_config(home.config)
    instance_a = Pipeline(config=config, store=Store(config.gateway.database))
    instance_b = Pipeline(config=config, store=Store(config.gateway.database))
    try:
        assert collect_exports(instance_a) == 1  # A claims and stores the export
        real_listing = outbound.stable_files

        def listing_then_a_files_it(directory: Any, settle: float) -> list[Path]:
            found = real_listing(directory, settle)
            if Path(directory).name == "processing" and found:
                assert render_exports(instance_a) == 1  # ...and A files it away
            return found

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(outbound, "stable_files", listing_then_a_files_it)
            assert collect_exports(instance_b) == 0
        assert render_exports(instance_b) == 0
    finally:
        instance_a.store.dispose()
        instance_b.store.dispose()

    assert [p.name for p in visible_files(home.archive)] == [name]
    assert visible_files(home.processing) == []
    process_until_quiet(home)
    (sent,) = amazon.pick_up()
    assert sent.sets[0].set_id == "855" and sent.sets[0].key == order.po_number
    view = read_store(home.database_url)
    assert [e.state for e in view.exchanges if e.channel == "erp"] == ["rendered"]


def test_a_process_paused_past_its_lease_publishes_nothing_the_other_took_over(
    home_factory: Any,
) -> None:
    """Instance A claims an exchange to deliver and stalls (a VM pause) right after staging
    its first PO file, past its lease; instance B takes the exchange over and delivers every
    PO. When A resumes, the fence in the transaction that marks the PO staged refuses it
    (LeaseLost): A publishes nothing, records ``delivery_lease_lost``, and the ERP gets each
    PO once (G2)."""
    home = home_factory(lease_seconds=0.5)
    amazon, erp = AmazonPartner(home, seed=15), Erp(home)
    pos = amazon.send_purchase_orders(1, sets=3, max_lines=2)
    config = load_config(home.config)
    instance_a = Pipeline(config=config, store=Store(config.gateway.database))
    instance_b = Pipeline(config=config, store=Store(config.gateway.database))
    try:
        instance_a.store.upgrade()
        assert pick_up(instance_a, config.partners) == 1
        assert process_received(instance_a) == 1
        real_stage = delivery.stage_file
        stalled: list[str] = []

        def stage_then_stall(inbox: Any, name: str, data: bytes) -> None:
            real_stage(inbox, name, data)
            if not stalled:  # A's first file: stall past the lease while B delivers
                stalled.append(name)
                time.sleep(0.6)
                assert deliver(instance_b) == 3
                assert len(erp.take_orders()) == 3

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(delivery, "stage_file", stage_then_stall)
            assert deliver(instance_a) == 0
    finally:
        instance_a.store.dispose()
        instance_b.store.dispose()
    assert stalled
    erp.take_orders()
    assert sorted(po for _name, po in erp.received) == sorted(pos)  # each PO once
    view = read_store(home.database_url)
    (exchange,) = [e for e in view.exchanges if e.channel == "partner" and e.direction == "in"]
    assert exchange.state == "delivered"
    store = Store(home.database_url)
    try:
        with store.transaction() as tx:
            kinds = [kind for _at, kind, _detail in tx.events(exchange.id)]
    finally:
        store.dispose()
    assert "delivery_lease_lost" in kinds
