"""A simulated Amazon: a trading partner that behaves like Amazon towards a vendor's gateway.

It is a gateway of its own (its AS2 station ``AMAZON`` with test-only certificates from
``sandbox_fixtures/sandbox/keys``, its own SQLite store, its own uvicorn endpoint on
127.0.0.1) whose one partner is the vendor. It

* sends purchase orders (850s rendered from scenario files, :mod:`gateway.sandbox.scenarios`)
  over AS2, with MDNs;
* checks every document the vendor sends like Amazon would (:mod:`gateway.sandbox.checks`:
  the maps, then the business rules against the PO it sent: all lines acknowledged, SSCC
  check digits, invoice totals to the cent...) and answers each interchange with a 997
  that accepts it or rejects it naming the segment and element at fault;
* keeps what it saw (:attr:`SimulatedAmazon.verdicts`) for the demo and the tests.

Everything travels through the same code as the vendor's side (``gateway.pipeline``), so
the sandbox rehearses onboarding with real AS2, real MDNs and real 997s.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from gateway.config import load_config
from gateway.erp import PoAcknowledgment, PurchaseOrder
from gateway.mapping import render
from gateway.pipeline import Pipeline
from gateway.pipeline.as2_inbound import send_owed_mdns
from gateway.pipeline.inbound import pick_up
from gateway.pipeline.outgoing import allocate, record_outbound
from gateway.pipeline.sending import send
from gateway.sandbox.checks import Verdict, check_interchange
from gateway.store import Store
from gateway.web import create_app
from gateway.x12 import Party, parse

#: Where the sandbox's data lives: scenarios and test-only certificates.
FIXTURES = Path(__file__).resolve().parents[2] / "sandbox_fixtures" / "sandbox"
AMAZON_AS2 = "AMAZON"
AMAZON_X12 = ("ZZ", "AMAZON")


@dataclass(frozen=True)
class Vendor:
    """The vendor as Amazon knows it: X12 id, and either AS2 (id, URL, certificate) or a
    folder pair standing for Amazon's SFTP (``to_vendor``: where Amazon puts its files, the
    vendor's incoming folder; ``from_vendor``: where the vendor publishes its files)."""

    as2_id: str
    x12: tuple[str, str]
    url: str = ""
    certificate: Path | None = None
    to_vendor: Path | None = None
    from_vendor: Path | None = None

    @property
    def transport(self) -> str:
        """``folder`` when the folder pair is given, else ``as2``."""
        return "folder" if self.to_vendor is not None else "as2"


@dataclass
class Seen:
    """One interchange Amazon received from the vendor, and what Amazon answered."""

    exchange_id: int
    sets: list[str]
    verdict: Verdict | None
    ack_isa13: str | None

    @property
    def accepted(self) -> bool:
        """Every set accepted (a 997 from the vendor counts as accepted)."""
        return self.verdict is None or self.verdict.accepted


@dataclass
class SimulatedAmazon:
    """Amazon's side, under ``root``: configuration, store, endpoint (see the module)."""

    root: Path
    vendor: Vendor
    keys: Path = FIXTURES / "keys"
    #: The port of Amazon's AS2 endpoint on 127.0.0.1 (0: any free one).
    port: int = 0
    orders: dict[str, PurchaseOrder] = field(default_factory=dict)
    acknowledgments: dict[str, PoAcknowledgment] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(128)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/as2"
        self.config_path = self.root / "acorn.toml"
        self.config_path.write_text(self._config(), encoding="utf-8")
        config = load_config(self.config_path)
        store = Store(config.gateway.database)
        store.upgrade()
        self.pipeline = Pipeline(config=config, store=store)
        self.partner = config.partner("vendor")
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _config(self) -> str:
        v = self.vendor
        for folder in (v.to_vendor, v.from_vendor):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        return f"""# The simulated Amazon's own gateway (acorn-gateway sandbox).
[gateway]
database = {json.dumps(f"sqlite:///{self.root / 'amazon.db'}")}
erp_inbox = {json.dumps(str(self.root / "inbox"))}
erp_outbox = {json.dumps(str(self.root / "outbox"))}
settle_seconds = 0

[as2]
as2_id = "{AMAZON_AS2}"
mdn_url = "{self.url}/mdn"
[as2.key]
certificate = {json.dumps(str(self.keys / "amazon.cert.pem"))}
private_key = {json.dumps(str(self.keys / "amazon.key.pem"))}

[[partners]]
name = "vendor"
id = "{v.x12[0]}:{v.x12[1]}"
our_id = "{AMAZON_X12[0]}:{AMAZON_X12[1]}"
usage = "T"
transport = "{v.transport}"
""" + (f"""[partners.folder]
incoming = {json.dumps(str(v.from_vendor))}
outgoing = {json.dumps(str(v.to_vendor))}
""" if v.transport == "folder" else f"""[partners.as2]
as2_id = {json.dumps(v.as2_id)}
url = {json.dumps(v.url)}
certificates = [{json.dumps(str(v.certificate))}]
""")

    # -- the endpoint ----------------------------------------------------------------------

    def start(self) -> SimulatedAmazon:
        """Serve Amazon's AS2 endpoint (uvicorn in a thread) until :meth:`stop`."""
        config = uvicorn.Config(create_app(self.pipeline), log_level="warning",
                                access_log=False, lifespan="on", log_config=None)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the simulated Amazon's endpoint did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the endpoint and close the store."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self.pipeline.store.dispose()

    def __enter__(self) -> SimulatedAmazon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what Amazon does ------------------------------------------------------------------

    def send_purchase_orders(self, orders: Iterable[PurchaseOrder]) -> list[int]:
        """Render each PO as an 850 interchange from Amazon and send it over AS2; returns
        the exchange ids (sent once the vendor's MDN came back)."""
        ids = []
        for order in orders:
            self.orders[order.po_number] = order
            with self.pipeline.store.transaction() as tx:
                numbers = allocate(tx, self.partner)
                interchange = render(
                    order, sender=Party(*AMAZON_X12), receiver=Party(*self.vendor.x12),
                    interchange_control_number=numbers.interchange,
                    group_control_number=numbers.group, when=self.pipeline.now(),
                    usage=self.partner.usage,
                )  # fmt: skip
                exchange_id, _ = record_outbound(
                    tx, self.partner, interchange, kind="document", parent_id=None,
                    now=self.pipeline.now(), ack_timeout=timedelta(hours=24),
                    business_key=order.po_number,
                )  # fmt: skip
            ids.append(exchange_id)
        send(self.pipeline)
        return ids

    def answer(self) -> list[Seen]:
        """Check every interchange received from the vendor and queue its 997; then send
        what is queued. Returns what was newly seen."""
        new: list[Seen] = []
        if self.vendor.transport == "folder":
            pick_up(self.pipeline)  # what the vendor published for Amazon (SFTP stand-in)
        for exchange in self.pipeline.claimed(states=["received"]):
            with self.pipeline.store.transaction() as tx:
                data = tx.payload(exchange.id)
            tree = parse(data)
            sets = [t.set_id for i in tree.interchanges for g in i.groups for t in g.transactions]
            if sets and set(sets) == {"997"}:
                # The vendor's 997 for our 850: Amazon does not answer it (never a 997 for a
                # 997).
                with self.pipeline.store.transaction() as tx:
                    tx.set_state(exchange.id, "processed")
                    tx.event(exchange.id, "ack_received")
                new.append(Seen(exchange.id, sets, None, None))
                continue
            new.append(self._check(exchange.id, data, sets))
        self.seen += new
        send(self.pipeline)
        send_owed_mdns(self.pipeline)
        return new

    def _check(self, exchange_id: int, data: bytes, sets: list[str]) -> Seen:
        with self.pipeline.store.transaction() as tx:
            numbers = allocate(tx, self.partner)
            verdict = check_interchange(
                data, purchase_orders=self.orders, acknowledgments=self.acknowledgments,
                sender=AMAZON_X12, receiver=self.vendor.x12,
                interchange_control_number=numbers.interchange,
                group_control_number=numbers.group, when=self.pipeline.now(),
            )  # fmt: skip
            for document in verdict.documents:
                if isinstance(document, PoAcknowledgment):
                    self.acknowledgments[document.po_number] = document
            answers = parse(verdict.ack).interchanges if verdict.ack else []
            for index, answer in enumerate(answers):
                # check_interchange counts up from the numbers given: take the counters
                # past every number it used, so the next allocation is a new one.
                extra_groups = max(len(answer.groups) - 1, 0) + (1 if index else 0)
                for _ in range(extra_groups):
                    tx.next_control_number(self.partner.name, "gs06")
                if index:
                    tx.next_control_number(self.partner.name, "isa13")
                record_outbound(tx, self.partner, answer, kind="ack", parent_id=exchange_id,
                                now=self.pipeline.now(), ack_timeout=None)  # fmt: skip
            seen = Seen(exchange_id, sets, verdict,
                        answers[0].control_number if answers else None)  # fmt: skip
            state = "processed" if seen.accepted else "rejected"
            if not answers:
                state = "quarantined"  # not X12: nothing to acknowledge
            tx.set_state(exchange_id, state)
            tx.event(exchange_id, f"amazon_{state}",
                     problems=[f"{s} {c}: {p.message}" for s, c, p in verdict.problems])
        return seen

    def wait_for(self, condition: Any, timeout: float = 60, what: str = "the vendor") -> None:
        """Answer what arrives until ``condition(self)`` holds (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the simulated Amazon waited {timeout:.0f} s for {what}")
            self.answer()
            time.sleep(0.1)

    def received_sets(self) -> list[str]:
        """Every transaction set received from the vendor, in order."""
        return [s for seen in self.seen for s in seen.sets]


def now_utc() -> datetime:
    """The current time, UTC (naive, as the store keeps it)."""
    return datetime.now(UTC).replace(tzinfo=None)
