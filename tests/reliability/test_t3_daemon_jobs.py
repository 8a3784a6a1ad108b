"""The daemon's jobs overlap (reliability.md T3, G2): ``poll:<partner>`` and ``process`` both
process what was received and deliver POs, each in its own worker thread of one process,
and a process holds its leases under one owner name. Found by the chaos run
(tests/reliability/test_t3_chaos.py): a PO reached the ERP twice when both jobs delivered
the same exchange at once. These tests run the two jobs concurrently on real files and a
real store and count what reaches the ERP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import gateway.pipeline.delivery as delivery
from gateway.config import load_config
from gateway.daemon.jobs import jobs
from gateway.pipeline import Pipeline
from gateway.pipeline.inbound import pick_up, process_received
from gateway.store import Store
from tests.pipeline.pipeline_sim import AmazonPartner, Erp, make_home


def _pipeline(config: Path) -> Pipeline:
    settings = load_config(config, environ={})
    store = Store(settings.gateway.database)
    store.upgrade()
    return Pipeline(config=settings, store=store)


def test_the_poll_and_process_jobs_at_once_deliver_each_po_once(
    tmp_path: Path, databases: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PO waiting for delivery while the ``poll`` job (which received another 850) and the
    ``process`` job run at the same moment in two threads, staging slowed down so that both
    reach the PO, and the ERP taking every file as soon as it appears: the ERP gets each PO
    exactly once, and no half-written ``.part`` file is left in its inbox."""
    home = make_home(tmp_path / "home", databases())
    pipeline = _pipeline(home.config)
    amazon, erp = AmazonPartner(home, seed=77), Erp(home)
    by_id = {job.id: job for job in jobs(pipeline)}
    real_stage = delivery.stage_file

    def slow_stage(directory: Path, name: str, data: bytes) -> Path:
        time.sleep(0.2)  # a slow disk: the other job reaches the same PO meanwhile
        return real_stage(directory, name, data)

    monkeypatch.setattr(delivery, "stage_file", slow_stage)
    stop = threading.Event()

    def take() -> None:  # the ERP, polling its inbox all the time
        while not stop.is_set():
            erp.take_orders()
            time.sleep(0.01)

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    expected: list[str] = []
    failures: list[BaseException] = []

    def run(job_id: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            by_id[job_id].run(pipeline)
        except BaseException as exc:
            failures.append(exc)

    try:
        for _ in range(3):
            expected += amazon.send_purchase_orders(1)
            pick_up(pipeline)
            process_received(pipeline)  # the PO now waits for delivery
            expected += amazon.send_purchase_orders(1)  # so that the poll job delivers too
            start = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(j, start))
                       for j in ("poll:amazon", "process")]  # fmt: skip
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert failures == []
        time.sleep(0.2)
    finally:
        stop.set()
        taker.join(5)
        pipeline.store.dispose()
    erp.take_orders()
    got = sorted(po for _name, po in erp.received)
    assert got == sorted(expected), "a PO reached the ERP twice (or never)"
    assert list(home.erp_inbox.iterdir()) == []
