"""The sets of one interchange are recorded together (a few statements per exchange, not a
few per set), and what an operator sees is what set-by-set recording showed: one row per
set with its business key, one document per purchase order named after its PO number (a
PO number seen before, in an earlier interchange or earlier in the same one, gets a name
that overwrites nothing and a ``po_repeated`` event), an 850 the mapping cannot carry
noted in its place, the events in the order of the sets."""

from __future__ import annotations

import random

import pytest

from bench.corpus import interchange, purchase_order_set
from gateway.config import load_config
from gateway.pipeline.context import Pipeline
from gateway.pipeline.inbound import pick_up, process_received
from gateway.store import Store
from tests.pipeline.pipeline_sim import GatewayHome


def _order(rng: random.Random, st02: int, po: str, *, unmappable: bool = False) -> list[str]:
    """The segments of an 850 with PO number ``po`` (BEG03); ``unmappable``: a CTT01 that
    disagrees with the lines, which the maps accept and the mapping refuses."""
    segments = purchase_order_set(rng, st02, 2)
    fields = segments[1].split("*")
    fields[3] = po
    segments[1] = "*".join(fields)
    if unmappable:
        (ctt,) = [n for n, s in enumerate(segments) if s.startswith("CTT*")]
        segments[ctt] = "CTT*9*" + segments[ctt].split("*")[2]
    return segments


def test_an_interchange_is_recorded_as_set_by_set_recording_showed_it(
    gateway_home: GatewayHome,
) -> None:
    home, rng = gateway_home, random.Random(7)
    first = [_order(rng, 1, "PO-A"), _order(rng, 2, "PO-B"),
             _order(rng, 3, "PO-C", unmappable=True), _order(rng, 4, "PO-A")]  # fmt: skip
    (home.to_us / "one.edi").write_bytes(interchange(first, isa13=501, gs06=501))
    config = load_config(home.config)
    store = Store(config.gateway.database)
    store.upgrade()
    pipeline = Pipeline(config, store)
    try:
        assert pick_up(pipeline) == 1
        assert process_received(pipeline) == 1
        (home.to_us / "two.edi").write_bytes(
            interchange([_order(rng, 1, "PO-B")], isa13=502, gs06=502)
        )
        assert pick_up(pipeline) == 1
        assert process_received(pipeline) == 1

        with store.transaction() as tx:
            one, two = [e for e in tx.exchanges() if e.direction == "in"]
            assert (one.state, two.state) == ("delivering", "delivering")
            names = {}
            for exchange in (one, two):
                for document in tx.documents_of_exchange(exchange.id):
                    place = tx.transaction_place(document.transaction_id or 0)
                    assert place is not None and place.exchange_id == exchange.id
                    names[document.id] = (place.st02, document.po_number,
                                          document.delivery_name)  # fmt: skip
            events = {e.id: [(kind, detail) for _at, kind, detail in tx.events(e.id)]
                      for e in (one, two)}  # fmt: skip
            sets = {e.id: [(r["st02"], r["business_key"])
                           for r in tx.transactions_of_exchange(e.id)]
                    for e in (one, two)}  # fmt: skip
    finally:
        store.dispose()

    assert sorted(names.values()) == [
        ("0001", "PO-A", "amazon-PO-A.json"),
        ("0001", "PO-B", "amazon-PO-B-000000502-0001.json"),
        ("0002", "PO-B", "amazon-PO-B.json"),
        ("0004", "PO-A", "amazon-PO-A-000000501-0004.json"),
    ]
    assert sets[one.id] == [("0001", "PO-A"), ("0002", "PO-B"), ("0003", None), ("0004", "PO-A")]
    assert sets[two.id] == [("0001", "PO-B")]

    def read(kind_details: list[tuple[str, dict]]) -> list[tuple[str, object]]:  # type: ignore[type-arg]
        """The events of the sets, each purchase_order_read with the ST02 of its document."""
        return [
            (kind, names[detail["document"]][0] if kind == "purchase_order_read"
             else detail.get("po", detail.get("set")))
            for kind, detail in kind_details
            if kind in ("purchase_order_read", "po_repeated", "mapping_failed")
        ]  # fmt: skip

    assert read(events[one.id]) == [
        ("purchase_order_read", "0001"), ("purchase_order_read", "0002"),
        ("mapping_failed", "850"), ("po_repeated", "PO-A"), ("purchase_order_read", "0004"),
    ]  # fmt: skip
    assert read(events[two.id]) == [("po_repeated", "PO-B"), ("purchase_order_read", "0001")]
    kinds = [kind for kind, _detail in events[one.id]]
    assert kinds.index("ack_queued") < kinds.index("purchase_order_read")
    assert kinds[-1] == "inbound_delivering"


def test_the_configured_validation_engine_is_the_one_the_pipeline_runs(
    gateway_home: GatewayHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gateway.validation_engine = "pyx12"`` (or ``--engine pyx12``) keeps the reference
    path in the pipeline: pyx12 walks every set and the outcome event names the engine; the
    default runs the compiled tables and never calls pyx12. Either way the same 850s reach
    the same state."""
    from gateway.validation.engine import MapSet

    calls: list[str] = []
    reference = MapSet.validate_transaction

    def spy(self: MapSet, *args: object, **kwargs: object) -> object:
        calls.append("pyx12")
        return reference(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MapSet, "validate_transaction", spy)
    home, rng = gateway_home, random.Random(11)
    outcomes = {}
    for n, engine in enumerate(("fast", "pyx12")):
        calls.clear()
        sets = [_order(rng, 1, f"PO-{engine}-1"), _order(rng, 2, f"PO-{engine}-2")]
        (home.to_us / f"{engine}.edi").write_bytes(interchange(sets, isa13=600 + n, gs06=600 + n))
        config = load_config(home.config)
        gateway = config.gateway.model_copy(update={"validation_engine": engine})
        config = config.model_copy(update={"gateway": gateway})
        store = Store(config.gateway.database)
        store.upgrade()
        pipeline = Pipeline(config, store)
        try:
            assert pipeline.engine == engine
            assert pick_up(pipeline) == 1 and process_received(pipeline) == 1
            with store.transaction() as tx:
                (exchange,) = [e for e in tx.exchanges() if e.file_name == f"{engine}.edi"]
                (outcome,) = [
                    (kind, detail) for _at, kind, detail in tx.events(exchange.id)
                    if kind.startswith("inbound_")
                ]  # fmt: skip
                outcomes[engine] = (exchange.state, outcome[0])
                assert outcome[1]["engine"] == engine
        finally:
            store.dispose()
        assert len(calls) == (2 if engine == "pyx12" else 0)
    assert outcomes["fast"] == outcomes["pyx12"] == ("delivering", "inbound_delivering")


@pytest.mark.parametrize("window", [0.0, 60.0])
def test_exchanges_share_a_commit_and_each_fails_alone(
    gateway_home: GatewayHome, monkeypatch: pytest.MonkeyPatch, window: float
) -> None:
    """Group commit: the exchanges of a claimed batch are committed together while the
    window (``GROUP_COMMIT_SECONDS``) lasts, so four files take one commit instead of
    four; with no window each takes its own. Either way each exchange is all or nothing:
    one whose processing raises is rolled back alone (no sets, no 997 left of it) and
    quarantined with the reason, and the others end as they would alone."""
    from sqlalchemy import event

    from gateway.pipeline import inbound

    monkeypatch.setattr(inbound, "GROUP_COMMIT_SECONDS", window)
    translate = inbound.translate

    def failing(transaction, source):  # type: ignore[no-untyped-def]
        if transaction.segments[0].text(3) == "PO-BOOM":
            raise ValueError("the mapping broke on PO-BOOM")
        return translate(transaction, source=source)

    monkeypatch.setattr(inbound, "translate", failing)
    home, rng = gateway_home, random.Random(5)
    files = {
        "1-good.edi": interchange([_order(rng, 1, "PO-1")], isa13=701, gs06=701),
        "2-noise.edi": b"this is not X12 at all",
        "3-boom.edi": interchange([_order(rng, 1, "PO-2"), _order(rng, 2, "PO-BOOM")],
                                  isa13=703, gs06=703),
        "4-good.edi": interchange([_order(rng, 1, "PO-4")], isa13=704, gs06=704),
    }  # fmt: skip
    for name, data in files.items():
        (home.to_us / name).write_bytes(data)
    config = load_config(home.config)
    store = Store(config.gateway.database)
    store.upgrade()
    pipeline = Pipeline(config, store)
    commits: list[int] = []

    def count(_connection: object) -> None:
        commits.append(1)

    try:
        assert pick_up(pipeline) == 4
        event.listen(store.engine, "commit", count)
        assert process_received(pipeline) == 4
        event.remove(store.engine, "commit", count)
        with store.transaction() as tx:
            inbound_rows = {e.file_name: e for e in tx.exchanges() if e.direction == "in"}
            states = {name: e.state for name, e in inbound_rows.items()}
            boom = inbound_rows["3-boom.edi"]
            boom_sets = tx.transactions_of_exchange(boom.id)
            boom_acks = tx.exchanges(parent_id=boom.id)
            good_acks = [a.kind for a in tx.exchanges(parent_id=inbound_rows["4-good.edi"].id)]
            documents = sorted(d.po_number for d in tx.documents(type="purchase_order"))
    finally:
        store.dispose()
    assert states == {"1-good.edi": "delivering", "2-noise.edi": "quarantined",
                      "3-boom.edi": "quarantined", "4-good.edi": "delivering"}  # fmt: skip
    assert boom.reason is not None and "ValueError: the mapping broke on PO-BOOM" in boom.reason
    assert (boom_sets, boom_acks) == ([], [])
    assert good_acks == ["ack"]
    assert documents == ["PO-1", "PO-4"]
    # A claim that finds the four, the work, a claim that finds nothing.
    assert len(commits) == (3 if window else 6)
