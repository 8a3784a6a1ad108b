"""Simulators for the pipeline tests: Amazon (the trading partner) and the vendor's ERP,
around a gateway home on the folder transport, plus helpers to run ``acorn`` and to read
what the store holds.

* :class:`AmazonPartner` drops 850 interchanges (``bench.corpus``, each with a unique ISA13
  and file name) into the folder the gateway polls, picks up what the gateway publishes for
  it (moving the files away and recording every one, as Amazon's SFTP client does), and
  answers each of our interchanges other than a 997 or a TA1 with a 997 built by
  ``gateway.validation`` (``validate`` then ``acknowledge``) as Amazon would, from a
  control-number counter of its own shared with its 850s.
* :class:`Erp` takes the purchase orders from the ERP inbox (moving them away, recording
  every one) and exports, for a PO, an 855 accepting every line at the PO price, an 856
  shipping everything in one carton per line (valid, unique SSCCs; parcel, or motor with a
  bill of lading) and an 810 invoicing every line at the 855 cost with the exact total.
  Exports are written as a careful ERP does: ``<name>.tmp``, fsync, rename.

Everything is deterministic from the seeds; dates are today's (UTC, the gateway's clock).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.corpus import interchange, purchase_order_set
from gateway.erp import (
    Invoice,
    PoAcknowledgment,
    PurchaseOrder,
    ShipNotice,
    document_json,
    parse_document,
)
from gateway.sandbox import erp as vendor_erp
from gateway.store import Store
from gateway.validation import acknowledge, validate
from gateway.x12 import parse, serialize

REPO = Path(__file__).resolve().parents[2]

#: States an exchange may end in (reliability.md G3): inbound X12 ends delivered,
#: processed, rejected, duplicate or quarantined; an ERP export rendered or rejected; an
#: outbound interchange sent.
TERMINAL_STATES = frozenset(
    {"delivered", "processed", "rejected", "duplicate", "quarantined", "rendered", "sent"}
)
#: States a row passes through and must never be left in once the gateway is idle.
NON_TERMINAL_STATES = frozenset({"received", "delivering", "queued", "staged"})

PARTNER_ID = "ZZ:AMAZON"
OUR_ID = "ZZ:ACMEVENDOR"


# -- the gateway's home ----------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayHome:
    """A gateway installation under a temporary directory: its acorn.toml, its database
    and the four folders (the partner's two, the ERP's two)."""

    root: Path
    config: Path
    database_url: str
    to_us: Path  # the partner drops its files here; the gateway polls it
    from_us: Path  # the gateway publishes files for the partner here
    erp_inbox: Path
    erp_outbox: Path

    @property
    def processing(self) -> Path:
        return self.erp_outbox / "processing"

    @property
    def archive(self) -> Path:
        return self.erp_outbox / "archive"

    @property
    def rejected(self) -> Path:
        return self.erp_outbox / "rejected"


def make_home(
    root: Path,
    database_url: str,
    *,
    lease_seconds: float = 300.0,
    settle_seconds: float = 0,
    engine: str | None = None,
) -> GatewayHome:
    """Write ``root/acorn.toml`` (settle_seconds = 0 unless told, one partner ``amazon`` on
    the folder transport, ``validation_engine = engine`` unless ``engine`` is None) and
    create its folders."""
    home = GatewayHome(
        root=root, config=root / "acorn.toml", database_url=database_url,
        to_us=root / "partner" / "to-us", from_us=root / "partner" / "from-us",
        erp_inbox=root / "erp" / "inbox", erp_outbox=root / "erp" / "outbox",
    )  # fmt: skip
    for folder in (home.to_us, home.from_us, home.erp_inbox, home.erp_outbox):
        folder.mkdir(parents=True, exist_ok=True)
    engine_line = f"validation_engine = {json.dumps(engine)}\n" if engine else ""
    home.config.write_text(
        f"""[gateway]
database = {json.dumps(database_url)}
erp_inbox = {json.dumps(str(home.erp_inbox))}
erp_outbox = {json.dumps(str(home.erp_outbox))}
settle_seconds = {settle_seconds}
lease_seconds = {lease_seconds}
{engine_line}
[[partners]]
name = "amazon"
id = "{PARTNER_ID}"
our_id = "{OUR_ID}"
usage = "P"
transport = "folder"
[partners.folder]
incoming = {json.dumps(str(home.to_us))}
outgoing = {json.dumps(str(home.from_us))}
""",
        encoding="utf-8",
    )
    return home


def drop_atomically(directory: Path, name: str, data: bytes) -> Path:
    """Write ``directory/name`` as a careful sender does: ``name.tmp``, fsync, rename."""
    temporary = directory / f"{name}.tmp"
    with open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, directory / name)
    return directory / name


def visible_files(directory: Path) -> list[Path]:
    """The complete files of a folder as its reader sees them: no hidden names, no
    ``*.tmp``/``*.part``, sorted by name."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".tmp", ".part"))
    )  # fmt: skip


def today() -> date:
    """Today on the gateway's clock (UTC)."""
    return datetime.now(UTC).date()


# -- PostgreSQL databases ----------------------------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "ACORN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_admin() -> Any:
    """An autocommit connection to the server's maintenance database. When the server
    cannot be reached the test is skipped with the reason, except in CI (``CI=true``),
    where it fails: CI never skips a database."""
    import psycopg
    import pytest

    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        why = " ".join(str(exc).split()) or repr(exc)
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI must run the PostgreSQL suite)")
        pytest.skip(message)


def create_postgres_database(template: str | None = None) -> tuple[str, str]:
    """A new database ``acorn_<uuid hex>`` (a copy of ``template`` if given); returns its
    name and SQLAlchemy URL."""
    name = f"acorn_{uuid.uuid4().hex}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def drop_postgres_database(name: str) -> None:
    """Terminate the database's connections, then drop it."""
    with postgres_admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()", (name,),
        )  # fmt: skip
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


# -- Amazon ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedSet:
    """One transaction set of an interchange the partner got: ST01, ST02 and its business
    key (855 BAK03, 856 BSN02, 810 BIG02, 997 ``AK101:AK102``)."""

    set_id: str
    control_number: str
    key: str
    accepted: bool | None = None  # for a 997: AK9 says A (True) or R/E/P (False)
    set_statuses: tuple[str, ...] = ()  # for a 997: each AK501


@dataclass(frozen=True)
class ReceivedFile:
    """One file the partner picked up from us, in pick-up order."""

    name: str
    data: bytes
    isa13: str
    sender: str
    receiver: str
    gs06: tuple[str, ...]
    sets: tuple[ReceivedSet, ...]
    ta1: bool = False

    @property
    def set_ids(self) -> set[str]:
        return {s.set_id for s in self.sets}


def read_interchange_file(name: str, data: bytes) -> ReceivedFile:
    """What a partner reads in one of our files (exactly one interchange expected)."""
    tree = parse(data)
    assert len(tree.interchanges) == 1, f"{name}: {len(tree.interchanges)} interchanges"
    isa = tree.interchanges[0]
    sets: list[ReceivedSet] = []
    for group in isa.groups:
        for txn in group.transactions:
            segments = {s.tag: s for s in txn.segments}
            if txn.set_id == "997":
                ak1, ak9 = segments["AK1"], segments["AK9"]
                statuses = tuple(s.text(1) for s in txn.segments if s.tag == "AK5")
                sets.append(ReceivedSet("997", txn.control_number,
                                        f"{ak1.text(1)}:{ak1.text(2)}",
                                        ak9.text(1) == "A", statuses))  # fmt: skip
            else:
                tag, position = {"855": ("BAK", 3), "856": ("BSN", 2), "810": ("BIG", 2)}[
                    txn.set_id
                ]
                sets.append(ReceivedSet(txn.set_id, txn.control_number,
                                        segments[tag].text(position)))  # fmt: skip
    return ReceivedFile(
        name=name, data=data, isa13=isa.control_number, sender=":".join(isa.sender),
        receiver=":".join(isa.receiver), gs06=tuple(g.control_number for g in isa.groups),
        sets=tuple(sets), ta1=any(s.tag == "TA1" for s in isa.service_segments),
    )  # fmt: skip


class AmazonPartner:
    """Amazon on the far side of the folder transport."""

    def __init__(self, home: GatewayHome, *, seed: int = 850, first_control_number: int = 1000):
        self.home = home
        self.rng = random.Random(seed)
        self.picked.mkdir(parents=True, exist_ok=True)
        self._next = first_control_number
        self.po_numbers: list[str] = []  # every PO sent, in order
        self.received: list[ReceivedFile] = []  # every file picked up, in order
        self.acknowledged: set[str] = set()  # ISA13s of ours answered with a 997

    @property
    def picked(self) -> Path:
        """Where Amazon keeps what it picked up."""
        return self.home.root / "partner" / "picked-up"

    def next_control_number(self) -> int:
        """Amazon's next ISA13 (its 850s and its 997s share the counter: each is unique)."""
        value = self._next
        self._next += 1
        return value

    def drop(self, name: str, data: bytes) -> Path:
        """Put a file where the gateway polls (atomically)."""
        return drop_atomically(self.home.to_us, name, data)

    def purchase_order_interchange(
        self, sets: int = 1, *, max_lines: int = 3
    ) -> tuple[str, bytes, list[str]]:
        """A new 850 interchange (file name, bytes, PO numbers), not yet dropped. Each PO
        number is new (a repeat drawn by chance is drawn again)."""
        payload, numbers = [], []
        while len(payload) < sets:
            segments = purchase_order_set(self.rng, len(payload) + 1,
                                          self.rng.randint(1, max_lines))  # fmt: skip
            po = segments[1].split("*")[3]
            if po in self.po_numbers or po in numbers:
                continue
            payload.append(segments)
            numbers.append(po)
        isa13 = self.next_control_number()
        name = f"AMAZON_850_{isa13:09d}.edi"
        self.po_numbers += numbers
        return name, interchange(payload, isa13=isa13, gs06=isa13), numbers

    def send_purchase_orders(
        self, interchanges: int, *, sets: int = 1, max_lines: int = 3
    ) -> list[str]:
        """Drop ``interchanges`` new 850 files of ``sets`` POs each; returns the PO numbers."""
        numbers: list[str] = []
        for _ in range(interchanges):
            name, data, pos = self.purchase_order_interchange(sets, max_lines=max_lines)
            self.drop(name, data)
            numbers += pos
        return numbers

    def pick_up(self) -> list[ReceivedFile]:
        """Take every complete file the gateway published (moved away, recorded)."""
        got = []
        for path in visible_files(self.home.from_us):
            data = path.read_bytes()
            target = self.picked / f"{len(self.received):05d}-{path.name}"
            os.replace(path, target)
            received = read_interchange_file(path.name, data)
            self.received.append(received)
            got.append(received)
        return got

    def acknowledge(self, files: Iterable[ReceivedFile]) -> int:
        """Answer each picked-up interchange that is not a 997 or a TA1 with Amazon's 997
        (validated with our maps, as a partner's translator would); returns how many."""
        answered = 0
        for received in files:
            if received.ta1 or received.set_ids <= {"997"}:
                continue  # never a 997 for a 997 (reliability.md 1.7)
            report = validate(received.data, name=received.name)
            assert len(report.interchanges) == 1
            number = self.next_control_number()
            acks = acknowledge(report.interchanges[0], next_control_number=number,
                               when=datetime.now(UTC).replace(tzinfo=None))  # fmt: skip
            assert len(acks) == 1, received.name
            self.drop(f"AMAZON_997_{number:09d}.edi", serialize(acks[0]))
            self.acknowledged.add(received.isa13)
            answered += 1
        return answered

    def exchange(self) -> list[ReceivedFile]:
        """Pick up what is waiting and answer it, as Amazon's poller does."""
        got = self.pick_up()
        self.acknowledge(got)
        return got


# -- the ERP -----------------------------------------------------------------------------


class Erp:
    """The vendor's ERP on the far side of the ERP inbox and outbox."""

    def __init__(self, home: GatewayHome, *, first_serial: int = 1):
        self.home = home
        self.taken.mkdir(parents=True, exist_ok=True)
        self.orders: dict[str, PurchaseOrder] = {}
        self.received: list[tuple[str, str]] = []  # (file name, PO number), in order
        self._serial = first_serial
        self.exported: list[str] = []  # file names, in order

    @property
    def taken(self) -> Path:
        """Where the ERP keeps the PO files it took."""
        return self.home.root / "erp" / "taken"

    def take_orders(self) -> list[PurchaseOrder]:
        """Take every complete PO file from the inbox (moved away, recorded)."""
        got = []
        for path in visible_files(self.home.erp_inbox):
            order = parse_document(path.read_bytes())
            os.replace(path, self.taken / f"{len(self.received):05d}-{path.name}")
            self.received.append((path.name, order.po_number))
            self.orders.setdefault(order.po_number, order)
            got.append(order)
        return got

    def acknowledgment(self, po: PurchaseOrder) -> PoAcknowledgment:
        """An 855 accepting every line in full at the PO price, shipping today."""
        return vendor_erp.acknowledgment(po, today=today())

    def next_sscc(self) -> str:
        value = vendor_erp.sscc(self._serial)
        self._serial += 1
        return value

    def ship_notice(self, po: PurchaseOrder, *, motor: bool = False) -> ShipNotice:
        """An 856 shipping every line in full, one carton per line (a new SSCC each), today,
        delivery in 3 days; by parcel (no BOL needed) or by motor with a BOL and PRO."""
        cartons = iter(self.next_sscc, None)
        return vendor_erp.ship_notice(po, self.acknowledgment(po), cartons, today=today(),
                                      motor=motor)  # fmt: skip

    def invoice(self, po: PurchaseOrder, acknowledgment: PoAcknowledgment | None = None) -> Invoice:
        """An 810 invoicing every line at the 855 cost, dated today, with the exact total."""
        return vendor_erp.invoice(po, acknowledgment or self.acknowledgment(po), today=today())

    def export(self, name: str, document: Any) -> str:
        """Drop one export in the outbox (a model, a dict or raw bytes), atomically."""
        if isinstance(document, bytes):
            data = document
        elif isinstance(document, dict):
            data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
        else:
            data = document_json(document).encode("utf-8")
        drop_atomically(self.home.erp_outbox, name, data)
        self.exported.append(name)
        return name

    def export_documents(self, po: PurchaseOrder, kinds: Sequence[str] = ("855", "856", "810"),
                         *, motor: bool = False) -> list[str]:  # fmt: skip
        """Export the 855, 856 and/or 810 for ``po``; returns the file names."""
        ack = self.acknowledgment(po)
        documents = {"855": lambda: ack, "856": lambda: self.ship_notice(po, motor=motor),
                     "810": lambda: self.invoice(po, ack)}  # fmt: skip
        return [self.export(self.file_name(kind, po.po_number), documents[kind]())
                for kind in kinds]  # fmt: skip

    def file_name(self, kind: str, key: str) -> str:
        """``<sequence>-<set>-<key>.json``: the gateway claims exports in name order, so the
        sequence keeps them in the order the ERP wrote them (an 855 before its 856 and 810)."""
        return f"{len(self.exported) + 1:06d}-{kind}-{key}.json"


# -- running the gateway -----------------------------------------------------------------


def acorn_command(*args: str) -> list[str]:
    """The ``acorn`` command line (``python -m gateway`` of this repository)."""
    return [sys.executable, "-m", "gateway", *args]


def acorn_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ACORN_CRASHPOINT"}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_acorn(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``acorn ARGS`` in a subprocess (``env`` added to the environment)."""
    return subprocess.run(acorn_command(*args), env=acorn_env(**env), cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def process_here(home: GatewayHome) -> dict[str, int]:
    """``acorn process --config HOME --json`` in this process; returns its figures."""
    from gateway.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["process", "--config", str(home.config), "--json"])
    assert code == 0, f"acorn process exited {code}: {out.getvalue()}"
    return json.loads(out.getvalue())


def quiet(figures: dict[str, int]) -> bool:
    """A pass that did nothing."""
    return not any(figures.values())


def process_until_quiet(home: GatewayHome, *, max_passes: int = 6) -> list[dict[str, int]]:
    """Run passes until one does nothing (at most ``max_passes``); returns the figures."""
    passes = []
    for _ in range(max_passes):
        passes.append(process_here(home))
        if quiet(passes[-1]):
            return passes
    raise AssertionError(f"still busy after {max_passes} passes: {passes}")


def process_loop(
    home: GatewayHome, *, quiet_passes: int = 2, max_passes: int = 40, timeout: float = 300
) -> list[subprocess.CompletedProcess[str]]:
    """``acorn process`` in subprocesses, pass after pass, until ``quiet_passes``
    consecutive passes do nothing (or one fails, or ``max_passes``/``timeout`` run out);
    returns every pass."""
    runs: list[subprocess.CompletedProcess[str]] = []
    streak = 0
    deadline = time.monotonic() + timeout
    while streak < quiet_passes and len(runs) < max_passes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        result = run_acorn("process", "--config", str(home.config), "--json", timeout=remaining)
        runs.append(result)
        if result.returncode != 0:
            break
        streak = streak + 1 if quiet(json.loads(result.stdout)) else 0
    return runs


def chain_json(home: GatewayHome, po_number: str) -> dict[str, Any]:
    """``acorn chain PO --config HOME --json`` in this process."""
    from gateway.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["chain", po_number, "--config", str(home.config), "--json"])
    assert code == 0, f"acorn chain {po_number} exited {code}: {out.getvalue()}"
    return json.loads(out.getvalue())


# -- what the store holds ----------------------------------------------------------------


@dataclass
class StoreView:
    """A read-only look at the store, for assertions."""

    exchanges: list[Any] = field(default_factory=list)
    documents: list[Any] = field(default_factory=list)
    interchanges: list[dict[str, Any]] = field(default_factory=list)  # with groups
    sent_order: list[int] = field(default_factory=list)  # outbound exchange ids, as sent
    counters: dict[str, int] = field(default_factory=dict)

    def by_state(self, **filters: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for e in self.exchanges:
            if all(getattr(e, k) == v for k, v in filters.items()):
                found[e.state] = found.get(e.state, 0) + 1
        return found

    def outbound(self) -> list[dict[str, Any]]:
        return [i for i in self.interchanges if i["direction"] == "out"]


def read_store(database_url: str) -> StoreView:
    """Everything the assertions need, read in one transaction."""
    store = Store(database_url)
    try:
        view = StoreView()
        with store.transaction() as tx:
            view.exchanges = tx.exchanges()
            view.documents = tx.documents()
            session = tx._s  # the tests read the envelope tables directly
            rows = session.execute(text(
                "SELECT i.id, i.exchange_id, i.direction, i.sender, i.receiver,"
                " i.control_number, g.functional_id, g.control_number, g.ack_status"
                " FROM interchanges i LEFT JOIN groups g ON g.interchange_id = i.id"
                " ORDER BY i.id, g.id"
            )).all()  # fmt: skip
            merged: dict[int, dict[str, Any]] = {}
            for row in rows:
                entry = merged.setdefault(row[0], {
                    "id": row[0], "exchange_id": row[1], "direction": row[2],
                    "sender": row[3], "receiver": row[4], "isa13": row[5], "groups": [],
                })  # fmt: skip
                if row[6] is not None:
                    entry["groups"].append({"gs01": row[6], "gs06": row[7], "ack": row[8]})
            view.interchanges = list(merged.values())
            view.sent_order = [r[0] for r in session.execute(text(
                "SELECT exchange_id FROM events WHERE kind = 'interchange_sent' ORDER BY id"
            ))]  # fmt: skip
            view.counters = {f"{r[0]}.{r[1]}": r[2] for r in session.execute(
                text("SELECT partner, name, value FROM counters"))}  # fmt: skip
        return view
    finally:
        store.dispose()
