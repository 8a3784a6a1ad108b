"""The store on SQLite and PostgreSQL: migrations, UNIQUE constraints that make duplicates
impossible, control-number counters, and leases that one process holds at a time."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.store import NewDocument, NewTransaction, Store, utcnow

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                                autocommit=True, connect_timeout=5)  # fmt: skip
    except psycopg.Error as exc:  # the server is not there or refuses us
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required in CI: {exc}")
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    name = f"acorn_store_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on each database."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'acorn.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()
    for _ in urls:  # runs the generator's cleanup
        pass


def _exchange(tx, name: str = "a.edi", sha: str = "s1", state: str = "received"):  # type: ignore[no-untyped-def]
    return tx.add_exchange(channel="partner", direction="in", kind="x12", partner="amazon",
                           transport="folder", file_name=name, payload=b"ISA...",
                           sha256=sha, state=state)  # fmt: skip


def test_migrations_are_idempotent(store: Store) -> None:
    """upgrade() twice leaves the schema as it is; the tables answer queries."""
    store.upgrade()
    with store.transaction() as tx:
        assert tx.count_states() == {}


def test_the_same_file_is_recorded_once(store: Store) -> None:
    """partner + name + sha256 is UNIQUE: the second insert is refused, the first kept;
    the same name with other bytes is another file."""
    with store.transaction() as tx:
        first = _exchange(tx)
        assert first is not None
        assert _exchange(tx) is None
        assert _exchange(tx, sha="s2") is not None
    with store.transaction() as tx:
        assert _exchange(tx) is None
        assert tx.payload(first) == b"ISA..."
        assert tx.count_states() == {"received": 2}


def test_a_repeated_interchange_is_refused_by_the_database(store: Store) -> None:
    """direction + sender + receiver + ISA13 is UNIQUE."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        args = dict(exchange_id=exchange, direction="in", sender="ZZ:AMAZON",
                    receiver="ZZ:ACME", control_number="000000007", version="00401",
                    usage="P", status="accepted")  # fmt: skip
        assert tx.add_interchange(**args) is not None
        assert tx.add_interchange(**args) is None
        assert tx.add_interchange(**{**args, "receiver": "ZZ:OTHER"}) is not None
        assert tx.interchange_exchange(direction="in", sender="ZZ:AMAZON", receiver="ZZ:ACME",
                                       control_number="000000007") == exchange  # fmt: skip


def test_business_keys_are_reserved_once(store: Store) -> None:
    """An invoice number is taken once; an expired shipment id can be purged and reused."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        document = tx.add_document(type="invoice", partner="amazon", business_key="INV1",
                                   po_number="PO1", body="{}", exchange_id=exchange,
                                   state="rendered")  # fmt: skip
        assert tx.reserve(kind="invoice_number", partner="amazon", value="INV1",
                          document_id=document, expires_at=None)  # fmt: skip
        assert not tx.reserve(kind="invoice_number", partner="amazon", value="INV1",
                              document_id=document, expires_at=None)  # fmt: skip
        past = utcnow() - timedelta(days=1)
        assert tx.reserve(kind="shipment_id", partner="amazon", value="SHIP1",
                          document_id=document, expires_at=past)  # fmt: skip
    with store.transaction() as tx:
        assert tx.purge_reservations(utcnow()) == 1
        assert tx.reserve(kind="shipment_id", partner="amazon", value="SHIP1",
                          document_id=document, expires_at=None)  # fmt: skip


def test_control_numbers_increase_and_a_rollback_gives_them_back(store: Store) -> None:
    """Counters count per partner and name; numbers of a rolled-back transaction are reused,
    committed ones never."""
    with store.transaction() as tx:
        assert [tx.next_control_number("amazon", "isa13") for _ in range(3)] == [1, 2, 3]
        assert tx.next_control_number("amazon", "gs06") == 1
        assert tx.next_control_number("walmart", "isa13") == 1
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.next_control_number("amazon", "isa13") == 4
        raise RuntimeError("render failed")
    with store.transaction() as tx:
        assert tx.next_control_number("amazon", "isa13") == 4


def test_concurrent_allocations_never_share_a_number(store: Store) -> None:
    """Four threads allocating 25 numbers each get 100 distinct numbers 1..100."""
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            with store.transaction() as tx:
                number = tx.next_control_number("amazon", "isa13")
            with lock:
                got.append(number)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(got) == list(range(1, 101))


def test_a_lease_is_held_by_one_owner_until_it_expires(store: Store) -> None:
    """claim() gives a row to one owner; another sees nothing until the lease expires."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
    with store.transaction() as tx:
        assert [e.id for e in tx.claim("one", states=["received"], lease_seconds=60)] == [exchange]
    with store.transaction() as tx:
        assert tx.claim("two", states=["received"], lease_seconds=60) == []
    with store.transaction() as tx:
        assert tx.claim("three", states=["received"], lease_seconds=-1, exclude=[exchange]) == []
        tx.release(exchange)
    with store.transaction() as tx:
        claimed = tx.claim("two", states=["received"], lease_seconds=0.001)
        assert [e.id for e in claimed] == [exchange] and claimed[0].attempts == 2
    with store.transaction() as tx:
        assert [e.id for e in tx.claim("three", states=["received"], lease_seconds=60)] == [
            exchange
        ]


def test_events_form_a_timeline(store: Store) -> None:
    """Events come back in order with their details."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        tx.event(exchange, "file_received", name="a.edi")
        tx.event(exchange, "ack_queued")
    with store.transaction() as tx:
        assert [(kind, detail) for _at, kind, detail in tx.events(exchange)] == [
            ("file_received", {"name": "a.edi"}), ("ack_queued", {}),
        ]  # fmt: skip


def test_a_fenced_move_refuses_a_lost_lease_and_rolls_back(store: Store) -> None:
    """set_state(owner=...) moves the row only while that owner holds the lease: after a
    takeover it raises LeaseLost and everything the old owner wrote in that transaction
    is rolled back, so the work is never committed twice."""
    from gateway.errors import LeaseLost

    with store.transaction() as tx:
        exchange = _exchange(tx)
    with store.transaction() as tx:
        tx.claim("slow", states=["received"], lease_seconds=0.001)
    with store.transaction() as tx:
        assert [e.id for e in tx.claim("fast", states=["received"], lease_seconds=60)] == [
            exchange
        ]
    with pytest.raises(LeaseLost), store.transaction() as tx:
        tx.event(exchange, "rendered_by_slow")
        tx.set_state(exchange, "rendered", owner="slow", expected=["received"])
    with store.transaction() as tx:
        tx.set_state(exchange, "rendered", owner="fast", expected=["received"])
    with store.transaction() as tx:
        assert tx.exchange(exchange).state == "rendered"
        assert [kind for _at, kind, _d in tx.events(exchange)] == []


def _group(tx, exchange: int, isa13: str = "000000001") -> int:  # type: ignore[no-untyped-def]
    interchange = tx.add_interchange(exchange_id=exchange, direction="in", sender="ZZ:AMAZON",
                                     receiver="ZZ:ACME", control_number=isa13, version="00401",
                                     usage="P", status="accepted")  # fmt: skip
    return tx.add_group(interchange_id=interchange, functional_id="PO", control_number="1",
                        version="004010", status="accepted")  # fmt: skip


def test_sets_of_a_group_are_recorded_together_and_their_ids_follow_their_order(
    store: Store,
) -> None:
    """add_transactions gives back one id per set, in the order of the sets, each the row of
    that set (control number, status, business key, findings), also after rows of other
    groups and other transactions; no sets, no rows."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        first = tx.add_transactions(_group(tx, exchange), [NewTransaction("850", "1", "accepted")])
    with store.transaction() as tx:
        group = _group(tx, exchange, isa13="000000002")
        assert tx.add_transactions(group, []) == []
        sets = [
            NewTransaction("850", f"{n:04}", "rejected" if n % 3 == 0 else "accepted",
                           business_key=f"PO{n}" if n % 2 else None,
                           findings=[{"code": "8", "segment": "BEG"}] if n % 3 == 0 else None)
            for n in range(1, 31)
        ]  # fmt: skip
        ids = tx.add_transactions(group, sets)
        assert len(set(ids + first)) == 31
        for transaction_id, expected in zip(ids, sets, strict=True):
            place = tx.transaction_place(transaction_id)
            assert place is not None
            assert (place.st02, place.status) == (expected.control_number, expected.status)
    with store.transaction() as tx:
        rows = [r for r in tx.transactions_of_exchange(exchange) if r["isa13"] == "000000002"]
        assert [(r["st02"], r["business_key"]) for r in rows] == [
            (s.control_number, s.business_key) for s in sets
        ]
        tree = [t for i in tx.envelope_tree(exchange) for g in i.groups for t in g.transactions]
        assert [t.findings for t in tree][1:4] == [(), (), ({"code": "8", "segment": "BEG"},)]


def test_documents_are_recorded_together_and_a_set_holds_one(store: Store) -> None:
    """add_documents records many documents at once and returns their ids in order; a
    document for a set that already has one is refused (None in its place) while the
    others of the same call are recorded; documents without a set are never refused."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        new = [NewTransaction("850", f"{n:04}", "accepted") for n in range(4)]
        sets = tx.add_transactions(_group(tx, exchange), new)

        def order(transaction_id: int | None, po: str) -> NewDocument:
            return NewDocument(type="purchase_order", partner="amazon", business_key=po,
                               po_number=po, body=f'{{"po": "{po}"}}', exchange_id=exchange,
                               state="pending", transaction_id=transaction_id,
                               delivery_name=f"amazon-{po}.json", po_state="open")  # fmt: skip

        (kept,) = tx.add_documents([order(sets[1], "PO1")])
        assert kept is not None
    with store.transaction() as tx:
        ids = tx.add_documents([order(sets[0], "PO0"), order(sets[1], "PO1-again"),
                                order(sets[2], "PO2")])  # fmt: skip
        assert ids[1] is None and None not in (ids[0], ids[2]) and ids[0] < ids[2]
        twice = tx.add_documents([order(sets[3], "PO3"), order(sets[3], "PO3-again")])
        assert twice[0] is not None and twice[1] is None
        loose = tx.add_documents([order(None, "X1"), order(None, "X2")])
        assert None not in loose
    with store.transaction() as tx:
        views = {d.id: d for d in tx.documents_of_exchange(exchange)}
        assert [(views[i].business_key, views[i].transaction_id) for i in ids if i] == [
            ("PO0", sets[0]), ("PO2", sets[2])
        ]
        assert views[kept].business_key == "PO1"  # the first document of the set stays
        assert [views[i].business_key for i in loose] == ["X1", "X2"]
        assert views[ids[0]].created_at is not None and views[ids[0]].po_state == "open"


def test_existing_po_numbers_are_found_with_one_question(store: Store) -> None:
    """existing_po_numbers tells which PO numbers already have a document of that type for
    that partner (not another partner's, not another type's), for any number of them."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        tx.add_documents([
            NewDocument(type=type_, partner=partner, business_key=po, po_number=po, body="{}",
                        exchange_id=exchange, state="pending")
            for type_, partner, po in [("purchase_order", "amazon", "PO1"),
                                       ("purchase_order", "amazon", "PO7"),
                                       ("purchase_order", "walmart", "PO2"),
                                       ("invoice", "amazon", "PO3")]
        ])  # fmt: skip
    with store.transaction() as tx:
        asked = [f"PO{n}" for n in range(1200)]
        assert tx.existing_po_numbers(type="purchase_order", partner="amazon",
                                      po_numbers=asked) == {"PO1", "PO7"}  # fmt: skip
        assert tx.existing_po_numbers(type="purchase_order", partner="amazon",
                                      po_numbers=[]) == set()  # fmt: skip


def test_events_added_together_keep_their_order(store: Store) -> None:
    """add_events writes many events with one statement, after those added before, in
    order, and reports them like event() does."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        other = _exchange(tx, name="b.edi")
        tx.event(exchange, "ack_queued", count=1)
        tx.add_events([
            (exchange, "po_repeated", {"po": "PO1"}), (other, "file_received", {}),
            (exchange, "purchase_order_read", {"po": "PO1", "document": 7}),
        ])  # fmt: skip
        tx.add_events([])
        tx.event(exchange, "inbound_delivering")
        assert [kind for _, kind, _ in tx.recorded] == [
            "ack_queued", "po_repeated", "file_received", "purchase_order_read",
            "inbound_delivering",
        ]  # fmt: skip
    with store.transaction() as tx:
        assert [(kind, detail) for _at, kind, detail in tx.events(exchange)] == [
            ("ack_queued", {"count": 1}), ("po_repeated", {"po": "PO1"}),
            ("purchase_order_read", {"po": "PO1", "document": 7}), ("inbound_delivering", {}),
        ]  # fmt: skip
        assert [kind for _at, kind, _d in tx.events(other)] == ["file_received"]


def test_control_numbers_of_one_interchange_come_together(store: Store) -> None:
    """next_control_numbers advances several counters with one statement, answering in the
    order asked; a counter used for the first time starts at 1; it shares the counters of
    next_control_number."""
    with store.transaction() as tx:
        assert tx.next_control_numbers("amazon", ("isa13", "gs06")) == [1, 1]
        assert tx.next_control_number("amazon", "isa13") == 2
        assert tx.next_control_numbers("amazon", ("gs06", "isa13")) == [2, 3]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.next_control_numbers("amazon", ("isa13", "gs06")) == [4, 3]
        raise RuntimeError("render failed")
    with store.transaction() as tx:
        assert tx.next_control_numbers("amazon", ("isa13", "gs06")) == [4, 3]
        assert tx.next_control_numbers("walmart", ("isa13",)) == [1]


def test_a_repeated_alert_key_or_as2_message_is_refused_without_harm(store: Store) -> None:
    """raise_alert and add_as2_message meet their UNIQUE keys inside a transaction that goes
    on working (the refused row leaves nothing behind), on both databases."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        assert tx.raise_alert(key="k", kind="ack_overdue", subject="late")
        assert not tx.raise_alert(key="k", kind="ack_overdue", subject="late again")
        message = dict(direction="in", message_id="<m1>", as2_from="AMAZON", as2_to="ACME",
                       status="processed", headers={}, mdn_mode="sync", dedupe_key="d1",
                       exchange_id=exchange)  # fmt: skip
        assert tx.add_as2_message(**message) is not None
        assert tx.add_as2_message(**message) is None
        assert tx.add_as2_message(**{**message, "dedupe_key": None}) is not None
        tx.event(exchange, "still_working")
    with store.transaction() as tx:
        assert [a.subject for a in tx.alerts()] == ["late"]
        assert len(tx.as2_messages()) == 2
        assert tx.clear_alert("k") and tx.raise_alert(key="k", kind="ack_overdue", subject="2")
        assert [kind for _at, kind, _d in tx.events(exchange)] == ["still_working"]


def test_a_transaction_reads_its_own_changes(store: Store) -> None:
    """What a transaction changed it reads back changed, even rows it had read before the
    change: a state moved, a lease taken, an alert cleared."""
    with store.transaction() as tx:
        exchange = _exchange(tx)
        assert tx.exchange(exchange).state == "received"
        assert [e.attempts for e in tx.exchanges()] == [0]
        (claimed,) = tx.claim("me", states=["received"], lease_seconds=60)
        assert claimed.attempts == 1 and tx.exchange(exchange).attempts == 1
        tx.set_state(exchange, "processed", reason="fine")
        assert (tx.exchange(exchange).state, tx.exchange(exchange).reason) == ("processed", "fine")
        assert [e.state for e in tx.exchanges()] == ["processed"]
        tx.raise_alert(key="k", kind="ack_overdue", subject="late")
        assert [a.cleared_at for a in tx.alerts()] == [None]
        assert tx.clear_alert("k")
        assert [a.cleared_at is not None for a in tx.alerts()] == [True]
        assert tx.alerts(open_only=True) == []


def test_rows_held_while_changed_are_read_back_changed(store: Store) -> None:
    """Rows loaded as ORM objects and still held in the transaction (no Repository method
    keeps one; this test does) are read back changed after claim, set_state and
    clear_alert, which change them without the ORM."""
    from gateway.store.tables import Alert, Exchange

    with store.transaction() as tx:
        exchange = _exchange(tx)
        tx.raise_alert(key="k", kind="ack_overdue", subject="late")
        session = tx._s
        held = [session.get_one(Exchange, exchange), *session.query(Alert)]
        tx.claim("me", states=["received"], lease_seconds=60)
        assert tx.exchange(exchange).attempts == 1
        tx.set_state(exchange, "processed")
        assert tx.exchange(exchange).state == "processed"
        tx.clear_alert("k")
        assert tx.alerts(open_only=True) == []
        assert held[0].state == "processed" and held[1].open_key is None


def test_a_savepoint_fails_alone_and_its_events_are_not_logged(store: Store) -> None:
    """Within one transaction, a savepoint whose block raises takes back exactly what it
    wrote (rows and the events it recorded for the log); what came before it and after it
    is committed together (group commit of several inputs)."""
    logged: list[tuple[int, str]] = []
    store.on_event = lambda exchange_id, _partner, _direction, kind, _detail: logged.append(
        (exchange_id, kind)
    )
    with store.transaction() as tx:
        with tx.savepoint():
            first = _exchange(tx, "a.edi", "s1")
            tx.event(first, "kept")
        with pytest.raises(RuntimeError), tx.savepoint():
            second = _exchange(tx, "b.edi", "s2")
            tx.event(second, "taken_back")
            tx.set_state(first, "processed")
            raise RuntimeError("this input fails alone")
        with tx.savepoint():
            third = _exchange(tx, "c.edi", "s3")
            tx.event(third, "kept")
    with store.transaction() as tx:
        assert [(e.file_name, e.state) for e in tx.exchanges()] == [
            ("a.edi", "received"), ("c.edi", "received"),
        ]  # fmt: skip
        assert [kind for _at, kind, _d in tx.events(first)] == ["kept"]
    assert logged == [(first, "kept"), (third, "kept")]


def test_rows_inserted_in_bulk_keep_their_times_as_every_other_row(store: Store) -> None:
    """Events, sets and purchase orders go in with the driver's executemany: their times read
    back as given, and on SQLite they are stored in the text form of every other row (the
    form comparisons and ordering in SQL rely on), microseconds included."""
    from sqlalchemy import text

    at = utcnow().replace(microsecond=0)
    with store.transaction() as tx:
        exchange = _exchange(tx)
        sets = tx.add_transactions(_group(tx, exchange), [
            NewTransaction("850", f"{n:04}", "accepted", business_key=f"PO{n}",
                           findings=[{"code": "8"}] if n else None)
            for n in range(2)
        ])  # fmt: skip
        ids = tx.add_documents([
            NewDocument("purchase_order", "amazon", f"PO{n}", f"PO{n}", "{}", exchange,
                        "pending", transaction_id=sets[n], at=at)
            for n in range(2)
        ])  # fmt: skip
        tx.add_events([(exchange, "one", {"n": 1}), (exchange, "two", {})])
    with store.transaction() as tx:
        assert {d.id: d.created_at for d in tx.documents_of_exchange(exchange)} == {
            ids[0]: at, ids[1]: at
        }
        assert [(kind, detail) for _at, kind, detail in tx.events(exchange)] == [
            ("one", {"n": 1}), ("two", {})
        ]
        assert [(r["st02"], r["business_key"]) for r in tx.transactions_of_exchange(exchange)] \
            == [("0000", "PO0"), ("0001", "PO1")]
        if store.engine.dialect.name == "sqlite":
            session = tx._s
            stored = session.execute(text("SELECT created_at FROM documents")).scalars().all()
            assert stored == [f"{at:%Y-%m-%d %H:%M:%S}.000000"] * 2
            (event_at, exchange_at) = (
                session.execute(text("SELECT at FROM events LIMIT 1")).scalar_one(),
                session.execute(text("SELECT created_at FROM exchanges")).scalar_one(),
            )
            assert len(event_at) == len(exchange_at) == len("2026-01-01 00:00:00.000000")


def test_events_are_logged_after_the_write_lock_is_released(tmp_path: Path) -> None:
    """The log of a transaction's events is written after its commit and outside any
    transaction: a log that blocks (stderr a full pipe nobody reads) must not hold SQLite's
    write lock, or every other writer of the gateway waits on it (found by T10)."""
    url = f"sqlite:///{tmp_path / 'acorn.db'}"
    store, other = Store(url), Store(url)
    store.upgrade()
    logging, release = threading.Event(), threading.Event()

    def blocked_log(*_args: object) -> None:
        logging.set()
        release.wait(20)

    def add(tx: object, name: str) -> int:
        return tx.add_exchange(channel="partner", direction="in", kind="x12",  # type: ignore[attr-defined]
                               partner="amazon", transport="folder", file_name=name,
                               payload=b"ISA", sha256=name * 4, state="received")  # fmt: skip

    def write() -> None:
        with store.transaction() as tx:
            tx.event(add(tx, "a"), "received")

    store.on_event = blocked_log
    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert logging.wait(10)
        wrote = threading.Event()

        def second_writer() -> None:
            with other.transaction() as tx:
                add(tx, "b")
            wrote.set()

        threading.Thread(target=second_writer, daemon=True).start()
        assert wrote.wait(5), "the second writer waited for the first one's log"
    finally:
        release.set()
        writer.join(20)
        store.dispose()
        other.dispose()
