"""The clocks: a group without its 997 becomes overdue; a PO without an 855 becomes due,
then late; an 855 stops the PO's clock; a partner's 997 settles our group."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from bench.corpus import generate
from gateway.cli.chain import chain
from gateway.config import load_config
from gateway.pipeline import Pipeline, run_once
from gateway.store import Store
from gateway.validation import acknowledge, validate
from gateway.x12 import serialize

CONFIG = """
[gateway]
database = "sqlite:///acorn.db"
erp_inbox = "erp/inbox"
erp_outbox = "erp/outbox"
settle_seconds = 0
ack_timeout_hours = 24
po_ack_due_hours = 24

[[partners]]
name = "amazon"
id = "ZZ:AMAZON"
our_id = "ZZ:ACMEVENDOR"
[partners.folder]
incoming = "partner/to-us"
outgoing = "partner/from-us"
"""


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 8, 0)

    def __call__(self) -> datetime:
        return self.at


def _pipeline(tmp_path: Path) -> tuple[Pipeline, Clock]:
    (tmp_path / "acorn.toml").write_text(CONFIG)
    config = load_config(tmp_path / "acorn.toml", environ={})
    store = Store(config.gateway.database)
    store.upgrade()
    clock = Clock()
    (tmp_path / "partner/to-us").mkdir(parents=True)
    return Pipeline(config=config, store=store, now=clock), clock


def _acknowledgment_export(po: dict) -> dict:
    return {
        "type": "po_acknowledgment", "po_number": po["po_number"], "po_date": po["po_date"],
        "lines": [
            {"line_id": line["line_id"], "ordered_quantity": line["quantity"],
             "unit": line["unit"], "unit_cost": line["unit_price"],
             "product_ids": line["product_ids"],
             "statuses": [{"status": "accepted", "quantity": line["quantity"],
                           "unit": line["unit"]}]}
            for line in po["lines"]
        ],
    }  # fmt: skip


def test_po_clock_runs_until_an_855_is_sent(tmp_path: Path) -> None:
    """open -> due after 18 h -> late after 24 h; a PO answered in time is acknowledged."""
    pipeline, clock = _pipeline(tmp_path)
    inbox = tmp_path / "partner/to-us"
    (inbox / "a.edi").write_bytes(generate(11, sets=1, max_lines=2))
    (inbox / "b.edi").write_bytes(generate(12, sets=1, max_lines=2))
    run_once(pipeline)
    orders = {p.name: json.loads(p.read_text()) for p in (tmp_path / "erp/inbox").iterdir()}
    assert len(orders) == 2
    answered, ignored = sorted(orders.values(), key=lambda o: o["po_number"])
    (tmp_path / "erp/outbox/855.json").write_text(json.dumps(_acknowledgment_export(answered)))
    clock.at += timedelta(hours=2)
    run_once(pipeline)

    def states() -> dict[str, str | None]:
        with pipeline.store.transaction() as tx:
            return {d.po_number: d.po_state for d in tx.documents(type="purchase_order")}

    assert states() == {answered["po_number"]: "acknowledged", ignored["po_number"]: "open"}
    clock.at += timedelta(hours=17)  # 19 h after receipt: three quarters of 24 h passed
    assert run_once(pipeline).orders_due == 1
    assert states()[ignored["po_number"]] == "due"
    clock.at += timedelta(hours=6)  # 25 h
    assert run_once(pipeline).orders_late == 1
    assert states() == {answered["po_number"]: "acknowledged", ignored["po_number"]: "late"}


def test_group_without_997_becomes_overdue_and_a_997_settles_the_other(tmp_path: Path) -> None:
    """Two 855 groups sent; the partner acknowledges one: it is accepted, the other is
    overdue after 24 h, and the chain shows both."""
    pipeline, clock = _pipeline(tmp_path)
    inbox = tmp_path / "partner/to-us"
    (inbox / "a.edi").write_bytes(generate(21, sets=2, max_lines=2))
    run_once(pipeline)
    orders = [json.loads(p.read_text()) for p in sorted((tmp_path / "erp/inbox").iterdir())]
    for i, order in enumerate(orders):
        export = json.dumps(_acknowledgment_export(order))
        (tmp_path / f"erp/outbox/855-{i}.json").write_text(export)
    run_once(pipeline)
    sent = sorted((tmp_path / "partner/from-us").glob("ACMEVENDOR_855_*.edi"))
    assert len(sent) == 2
    report = validate(sent[0].read_bytes())
    (answer,) = acknowledge(report.interchanges[0], next_control_number=900, when=clock())
    (inbox / "997-from-amazon.edi").write_bytes(serialize(answer))
    clock.at += timedelta(hours=25)
    summary = run_once(pipeline)
    assert summary.acks_overdue == 1
    statuses = {}
    for order in orders:
        links = chain(pipeline.store, order["po_number"])
        (ack,) = [link for link in links if link["type"] == "po_acknowledgment"]
        statuses[ack["sent"][0]["file"]] = ack["sent"][0]["envelopes"][0]["group_ack"]
    assert statuses == {sent[0].name: "accepted", sent[1].name: "overdue"}
