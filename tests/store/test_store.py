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

from gateway.store import Store, utcnow

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
