"""The operator's actions through the real pipeline, on SQLite and on PostgreSQL
(issue 7): resend and reprocess never deliver or send anything twice.

* Reprocess: an 850 rejected by a faulty map, or quarantined by a mapping bug, processed
  again after the fix reaches the ERP exactly once, with no second 997 when the partner
  had its answer; the earlier exchange is ``superseded`` and keeps its evidence; a PO
  already delivered is never delivered again; a forced duplicate takes the interchange over
  from a damaged first copy only; two concurrent reprocesses make one new exchange; a
  rejected export is rendered again after a rules fix, unless its document was rendered
  meanwhile.
* Resend: ``failed`` -> ``queued`` -> sent once; ``sent`` -> a copy with the same bytes
  under a new name, sent once more; over AS2 a new Message-ID; anything else refused.
* Migration 0003 keeps every interchange with its groups and lets only live rows hold an
  ISA13.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import gateway.pipeline.operator as operator_module
from bench.corpus import MUTANTS
from gateway.config import load_config
from gateway.erp import Problem
from gateway.errors import MappingError
from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.inbound import pick_up, process_received
from gateway.pipeline.operator import exchange_view, reprocess, reprocess_candidates, resend
from gateway.pipeline.sending import send
from gateway.store import Store
from gateway.store.operator import ExchangeFilter
from gateway.store.store import MIGRATIONS
from gateway.validation import MapSet
from tests.pipeline.pipeline_sim import (
    REPO,
    AmazonPartner,
    Erp,
    GatewayHome,
    process_here,
    process_until_quiet,
    read_store,
)

#: The module, not the function ``gateway.validation.validate`` that shadows it.
validate_module = importlib.import_module("gateway.validation.validate")


@contextmanager
def operating(home: GatewayHome) -> Iterator[Pipeline]:
    """The pipeline an operator's command works with."""
    pipeline = Pipeline(config=load_config(home.config), store=Store(home.database_url))
    pipeline.store.upgrade()
    try:
        yield pipeline
    finally:
        pipeline.store.dispose()


def _inbound(home: GatewayHome) -> list[Any]:
    return [e for e in read_store(home.database_url).exchanges
            if e.channel == "partner" and e.direction == "in"]  # fmt: skip


def _events(home: GatewayHome, exchange_id: int) -> list[str]:
    with operating(home) as pipeline, pipeline.store.transaction() as tx:
        return [kind for _at, kind, _detail in tx.events(exchange_id)]


def _broken_maps(tmp_path: Path) -> Path:
    """A copy of the maps in which the 850 admits only BEG02 ``ZZ``: every real 850 is
    rejected (the "faulty map" an operator later fixes)."""
    maps = tmp_path / "broken-maps"
    shutil.copytree(REPO / "maps", maps)
    path = maps / "850.4010.xml"
    text_ = path.read_text()
    fixed = re.sub(r'(<element xid="BEG02">.*?<valid_codes>).*?(</valid_codes>)',
                   r"\1<code>ZZ</code>\2", text_, count=1, flags=re.S)  # fmt: skip
    assert fixed != text_
    path.write_text(fixed)
    return maps


# -- reprocess: inbound ----------------------------------------------------------------------


def test_a_rejected_850_reprocessed_after_the_maps_are_fixed_reaches_the_erp_once_without_a_second_997(  # noqa: E501
    gateway_home: GatewayHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=21), Erp(home)
    monkeypatch.setattr(validate_module, "_DEFAULT_MAPS", MapSet(_broken_maps(tmp_path)))
    name, data, (po,) = amazon.purchase_order_interchange(1)
    amazon.drop(name, data)
    process_until_quiet(home)
    (first,) = _inbound(home)
    assert first.state == "rejected" and "BEG02" in (first.reason or "")
    (answer,) = amazon.pick_up()
    assert answer.sets[0].set_statuses == ("R",)  # Amazon was told: rejected

    monkeypatch.setattr(validate_module, "_DEFAULT_MAPS", None)  # the maps are fixed
    with operating(home) as pipeline:
        outcome = reprocess(pipeline, first.id)
    assert outcome.action == "reprocessed" and outcome.state == "received"
    process_until_quiet(home)

    view = read_store(home.database_url)
    rows = {e.id: e for e in view.exchanges}
    earlier, new = rows[first.id], rows[outcome.new_exchange_id]  # type: ignore[index]
    assert earlier.state == "superseded" and earlier.reason == first.reason  # evidence kept
    assert new.state == "delivered" and new.parent_id == first.id
    assert new.sha256 == first.sha256 and new.file_name == name.replace(".edi", ".reprocess-1.edi")
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]  # exactly once
    assert amazon.pick_up() == []  # no second 997 for one interchange
    assert "ack_not_repeated" in _events(home, new.id)
    assert "reprocessed" in _events(home, first.id)
    with operating(home) as pipeline:
        with pipeline.store.transaction() as tx:
            (old_rows,) = tx.envelope_tree(first.id)
            (new_rows,) = tx.envelope_tree(new.id)
        assert old_rows.superseded_by == new.id and old_rows.status == "rejected"
        assert new_rows.superseded_by is None
        assert new_rows.control_number == old_rows.control_number
        again = reprocess(pipeline, first.id)
        delivered = reprocess(pipeline, new.id)
    assert again.action == "refused" and f"as exchange {new.id}" in again.detail
    assert delivered.action == "refused" and "delivered to the ERP already" in delivered.detail
    assert process_here(home)["orders_delivered"] == 0


@pytest.mark.parametrize(
    ("bug", "state_then", "new_997"),
    [(ValueError("a mapping bug"), "quarantined", True),
     (MappingError("CTT01 disagrees"), "quarantined", False)],
    ids=["crash-rolled-back", "unmapped"],
)  # fmt: skip
def test_an_850_quarantined_by_a_bug_reprocessed_after_the_fix_is_delivered_once(
    gateway_home: GatewayHome, monkeypatch: pytest.MonkeyPatch, bug: Exception,
    state_then: str, new_997: bool,
) -> None:  # fmt: skip
    """A crash rolls everything back (no 997 went out: the reprocess sends one); an
    unmappable 850 was accepted by its 997 already (the reprocess sends none)."""
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=22), Erp(home)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise bug

    monkeypatch.setattr("gateway.pipeline.inbound.translate", broken)
    (po,) = amazon.send_purchase_orders(1)
    process_until_quiet(home)
    (first,) = _inbound(home)
    assert first.state == state_then
    first_acks = amazon.pick_up()
    assert len(first_acks) == (0 if new_997 else 1)

    monkeypatch.undo()
    with operating(home) as pipeline:
        outcome = reprocess(pipeline, first.id)
    assert outcome.done
    process_until_quiet(home)
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]
    acks = amazon.pick_up()
    assert len(acks) == (1 if new_997 else 0)
    assert all(a.sets[0].set_statuses == ("A",) for a in acks)
    states = {e.id: e.state for e in _inbound(home)}
    assert states == {first.id: "superseded", outcome.new_exchange_id: "delivered"}


def test_reprocessing_a_duplicate_whose_po_was_delivered_is_refused_even_forced(
    gateway_home: GatewayHome,
) -> None:
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=23), Erp(home)
    name, data, (po,) = amazon.purchase_order_interchange(1)
    amazon.drop(name, data)
    process_until_quiet(home)
    amazon.drop(name.replace(".edi", "-again.edi"), data)  # the same ISA13 again
    process_until_quiet(home)
    original, duplicate = sorted(_inbound(home), key=lambda e: e.id)
    assert (original.state, duplicate.state) == ("delivered", "duplicate")
    with operating(home) as pipeline:
        plain = reprocess(pipeline, duplicate.id)
        forced = reprocess(pipeline, duplicate.id, force=True)
        delivered = reprocess(pipeline, original.id)
    assert plain.action == "refused" and "--force" in plain.detail
    assert forced.action == "refused" and f"PO {po} was delivered" in forced.detail
    assert delivered.action == "refused" and "delivered" in delivered.detail
    assert {e.state for e in _inbound(home)} == {"delivered", "duplicate"}  # nothing moved
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]


def test_a_forced_duplicate_takes_the_interchange_over_from_a_damaged_first_copy(
    gateway_home: GatewayHome,
) -> None:
    """The first copy of an interchange arrived damaged (rejected); Amazon's repeat, the
    good copy, is a duplicate of it. Forced, the repeat is processed and delivered once."""
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=24), Erp(home)
    name, data, (po,) = amazon.purchase_order_interchange(1)
    dtm = next(m for m in MUTANTS if m.name == "bad date in DTM02")
    amazon.drop(name, dtm.mutate(data.decode("ascii")).encode("ascii"))
    process_until_quiet(home)
    amazon.drop(name.replace(".edi", "-repeat.edi"), data)
    process_until_quiet(home)
    damaged, repeat = sorted(_inbound(home), key=lambda e: e.id)
    assert (damaged.state, repeat.state) == ("rejected", "duplicate")
    assert len(amazon.pick_up()) == 2  # a 997 for each copy

    with operating(home) as pipeline:
        outcome = reprocess(pipeline, repeat.id, force=True)
    assert outcome.action == "reprocessed"
    process_until_quiet(home)
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]
    assert amazon.pick_up() == []  # answered already
    states = {e.id: e.state for e in _inbound(home)}
    assert states == {damaged.id: "rejected", repeat.id: "superseded",
                      outcome.new_exchange_id: "delivered"}  # fmt: skip
    with operating(home) as pipeline, pipeline.store.transaction() as tx:
        (held,) = tx.envelope_tree(damaged.id)
    assert held.superseded_by == outcome.new_exchange_id
    assert "interchange_superseded" in _events(home, damaged.id)


def test_two_concurrent_reprocesses_of_one_exchange_make_one_new_exchange(
    gateway_home: GatewayHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the exchange as rejected and pass the checks together (on PostgreSQL;
    SQLite serialises the two transactions); the conditional UPDATE lets one through."""
    home = gateway_home
    amazon = AmazonPartner(home, seed=25)
    name, data, _ = amazon.purchase_order_interchange(1)
    dtm = next(m for m in MUTANTS if m.name == "bad date in DTM02")
    amazon.drop(name, dtm.mutate(data.decode("ascii")).encode("ascii"))
    process_until_quiet(home)
    (rejected,) = _inbound(home)
    barrier = threading.Barrier(2, timeout=2)
    checked = operator_module._check_inbound

    def check_together(*args: Any) -> Any:
        found = checked(*args)
        # SQLite: the other transaction waits for ours to end; the barrier times out.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    monkeypatch.setattr(operator_module, "_check_inbound", check_together)
    outcomes: list[Any] = []
    with operating(home) as one, operating(home) as other:  # migrated here: Alembic is
        threads = [threading.Thread(target=lambda p=p: outcomes.append(reprocess(p, rejected.id)))
                   for p in (one, other)]  # not thread-safe  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(o.action for o in outcomes) == ["refused", "reprocessed"], outcomes
    (refused,) = [o for o in outcomes if not o.done]
    if home.database_url.startswith("postgresql"):  # both passed the checks: the fence spoke
        assert "changed while being reprocessed" in refused.detail
    else:  # the second transaction began after the first committed
        assert "reprocessed already" in refused.detail
    children = [e for e in _inbound(home) if e.parent_id == rejected.id]
    assert len(children) == 1 and children[0].state == "received"
    assert _events(home, rejected.id).count("reprocessed") == 1


def test_reprocess_candidates_are_the_exchanges_that_may_be_reprocessed(
    gateway_home: GatewayHome,
) -> None:
    home = gateway_home
    amazon = AmazonPartner(home, seed=26)
    name, data, _ = amazon.purchase_order_interchange(1)
    amazon.drop(name, data)
    amazon.drop("junk.edi", b"not X12 at all\n")
    process_until_quiet(home)
    amazon.drop(name.replace(".edi", "-again.edi"), data)
    process_until_quiet(home)
    by_name = {e.file_name: e for e in _inbound(home)}
    with operating(home) as pipeline:
        plain = reprocess_candidates(pipeline.store, ExchangeFilter(partner="amazon"))
        forced = reprocess_candidates(pipeline.store, ExchangeFilter(), force=True)
        told = reprocess_candidates(pipeline.store, ExchangeFilter(states=("delivered",)))
    assert plain == [by_name["junk.edi"].id]
    repeat = by_name[name.replace(".edi", "-again.edi")]
    assert forced == sorted([by_name["junk.edi"].id, repeat.id])
    assert told == [by_name[name].id]  # an explicit state is taken as given (then refused)


# -- reprocess: ERP exports ------------------------------------------------------------------


def test_a_rejected_export_is_rendered_again_after_a_rules_fix_unless_rendered_meanwhile(
    gateway_home: GatewayHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=27), Erp(home)
    amazon.send_purchase_orders(2)
    process_until_quiet(home)
    amazon.pick_up()
    first_po, second_po = erp.take_orders()

    def faulty(*_args: Any, **_kwargs: Any) -> list[Problem]:
        return [Problem("$.lines[0].unit_cost", "a faulty rule refuses it", "rule")]

    monkeypatch.setattr("gateway.pipeline.outbound.check", faulty)
    (first_name,) = erp.export_documents(first_po, ["855"])
    (second_name,) = erp.export_documents(second_po, ["855"])
    process_until_quiet(home)
    monkeypatch.undo()  # the rules are fixed
    exports = {e.file_name: e for e in read_store(home.database_url).exchanges
               if e.channel == "erp"}  # fmt: skip
    assert {e.state for e in exports.values()} == {"rejected"}
    assert (home.rejected / f"{first_name}.errors.json").is_file()
    erp.export_documents(second_po, ["855"])  # the ERP exported the second 855 again
    process_until_quiet(home)
    assert [s.key for f in amazon.pick_up() for s in f.sets] == [second_po.po_number]

    with operating(home) as pipeline:
        outcome = reprocess(pipeline, exports[first_name].id)
        refused = reprocess(pipeline, exports[second_name].id)
    assert outcome.action == "reprocessed"
    assert refused.action == "refused" and "rendered already" in refused.detail
    process_until_quiet(home)
    sent = amazon.pick_up()
    assert [(s.set_id, s.key) for f in sent for s in f.sets] == [("855", first_po.po_number)]
    rows = {e.id: e for e in read_store(home.database_url).exchanges}
    assert rows[exports[first_name].id].state == "superseded"
    assert rows[outcome.new_exchange_id].state == "rendered"  # type: ignore[index]
    assert rows[exports[second_name].id].state == "rejected"


# -- resend ----------------------------------------------------------------------------------


def test_a_failed_send_is_requeued_and_sent_once_and_a_sent_one_is_copied_and_sent_again(
    gateway_home: GatewayHome,
) -> None:
    home = gateway_home
    amazon = AmazonPartner(home, seed=28)
    amazon.send_purchase_orders(1)
    with operating(home) as pipeline:
        pick_up(pipeline)
        process_received(pipeline)
        with pipeline.store.transaction() as tx:
            (ack,) = tx.exchanges(states=["queued"])
            tx.claim("someone", states=["queued"], lease_seconds=600)
            tx.set_state(ack.id, "failed", reason="simulated: the partner refused it",
                         release=False)  # fmt: skip
        assert send(pipeline) == 0
        inbound = resend(pipeline, (_inbound(home))[0].id)
        outcome = resend(pipeline, ack.id)
        with pipeline.store.transaction() as tx:
            requeued = tx.exchange_detail(ack.id)
    assert inbound.action == "refused" and "outbound" in inbound.detail
    assert outcome.action == "requeued" and requeued is not None
    assert (requeued.state, requeued.attempts, requeued.lease_owner, requeued.reason) == (
        "queued", 0, None, None)
    process_until_quiet(home)
    (first_copy,) = amazon.pick_up()  # exactly one
    assert "resend_requested" in _events(home, ack.id)

    with operating(home) as pipeline:
        copied = resend(pipeline, ack.id)
        queued = resend(pipeline, copied.new_exchange_id)  # type: ignore[arg-type]
        unknown = resend(pipeline, 999_999)
    assert copied.action == "copied" and copied.state == "queued"
    assert queued.action == "refused" and "waiting to be sent" in queued.detail
    assert unknown.action == "refused" and "no such exchange" in unknown.detail
    process_until_quiet(home)
    (second_copy,) = amazon.pick_up()
    assert second_copy.data == first_copy.data  # the same bytes
    assert second_copy.name == first_copy.name.replace(".edi", ".resend-1.edi")
    rows = {e.id: e for e in read_store(home.database_url).exchanges}
    copy = rows[copied.new_exchange_id]  # type: ignore[index]
    assert (copy.parent_id, copy.state, copy.sha256) == (ack.id, "sent", rows[ack.id].sha256)
    assert "resent_as" in _events(home, ack.id) and "resend_of" in _events(home, copy.id)
    with operating(home) as pipeline:
        twice = resend(pipeline, ack.id)
    assert twice.detail.startswith("a copy " + first_copy.name.replace(".edi", ".resend-2.edi"))


def test_a_failed_as2_send_resent_goes_as_a_new_message_with_a_new_message_id(
    tmp_path: Path,
) -> None:
    from tests.pipeline.test_as2_send import (
        outbound,
        receive_an_order,
        received_by,
        release_all,
        serving,
        sites,
    )

    ours, amazon = sites(tmp_path, partnership={"max_attempts": 2})
    with serving(ours) as us:
        receive_an_order(us, ours)
        run_once(us.pipeline)  # Amazon's endpoint is down: the send fails twice
        release_all(us.pipeline)
        send(us.pipeline)
        exchange, failed = outbound(us.pipeline)
        assert exchange.state == "failed" and failed is not None
        assert resend(us.pipeline, exchange.id).action == "requeued"
        with serving(amazon) as them:
            assert send(us.pipeline) == 1
            exchange, message = outbound(us.pipeline)
            assert exchange.state == "sent" and message is not None
            assert message.id != failed.id and message.message_id != failed.message_id
            assert message.status == "delivered"
            [at_amazon] = received_by(them.pipeline)
            assert at_amazon.message_id == message.message_id
        with us.pipeline.store.transaction() as tx:
            kept = tx.as2_message(failed.id)
        assert kept.status != "delivered" and kept.message_id == failed.message_id  # evidence
        # acorn tx show: both messages, the MDN as text with its control characters escaped
        view = exchange_view(us.pipeline.store, exchange.id)
        assert view is not None
        assert [m["message_id"] for m in view["as2"]] == [failed.message_id, message.message_id]
        first, second = view["as2"]
        assert first["mdn"] is None and second["status"] == "delivered"
        assert "Received-Content-MIC" in second["mdn"] and "\r" not in second["mdn"]
        assert second["disposition"].endswith("processed")


# -- migration 0003 --------------------------------------------------------------------------


def test_migration_0003_keeps_every_interchange_and_lets_only_live_rows_hold_an_isa13(
    database_url: str,
) -> None:
    store = Store(database_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        with store.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO exchanges (id, channel, direction, kind, partner, transport,"
                " file_name, sha256, size, payload, state, attempts, created_at, updated_at)"
                " VALUES (1, 'partner', 'in', 'x12', 'amazon', 'folder', 'a.edi', 'x', 1,"
                " :payload, 'rejected', 0, '2026-01-01', '2026-01-01')"),
                {"payload": b"x"})  # fmt: skip
            connection.execute(text(
                "INSERT INTO interchanges (id, exchange_id, direction, sender, receiver,"
                " control_number, version, usage, status) VALUES (7, 1, 'in', 'ZZ:AMAZON',"
                " 'ZZ:ACME', '000000001', '00401', 'P', 'rejected')"))  # fmt: skip
            connection.execute(text(
                "INSERT INTO groups (id, interchange_id, functional_id, control_number,"
                " version, status) VALUES (3, 7, 'PO', '1', '004010', 'rejected')"))  # fmt: skip
        store.upgrade()
        with store.transaction() as tx:
            (kept,) = tx.envelope_tree(1)
            assert (kept.id, kept.control_number, kept.superseded_by) == (7, "000000001", None)
            assert [g.id for g in kept.groups] == [3]
            again = {"exchange_id": 1, "direction": "in", "sender": "ZZ:AMAZON",
                     "receiver": "ZZ:ACME", "control_number": "000000001", "version": "00401",
                     "usage": "P", "status": "accepted"}  # fmt: skip
            assert tx.add_interchange(**again) is None  # the live row holds the ISA13
            assert tx.supersede_interchanges(1, 1) == 1
            assert tx.add_interchange(**again) is not None  # superseded: free again
        with pytest.raises(IntegrityError), store.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO groups (interchange_id, functional_id, control_number, version,"
                " status) VALUES (99, 'PO', '2', '004010', 'accepted')"))  # fmt: skip
    finally:
        store.dispose()
