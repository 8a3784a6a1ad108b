"""The one-command demo (``make demo`` runs ``acorn demo``): the whole gateway at work against
the simulated Amazon, on loopback, in a ``demo/`` directory left for the user to explore.

1. ``demo/acorn.toml``: the vendor's gateway on embedded SQLite, AS2 with the sandbox's
   test-only certificates, a fast schedule; the simulated Amazon under ``demo/amazon``.
2. ``acorn run`` starts (its own process); Amazon sends the demo scenarios' purchase orders
   as 850s over AS2 and gets MDNs back.
3. The POs arrive as JSON in ``demo/erp/inbox``; the gateway's 997s reach Amazon.
4. A demo ERP step answers each PO: an 855 (one line accepted, one backordered, one
   rejected), an 856 with SSCC-labelled cartons and an 810, written to ``demo/erp/outbox``.
5. The gateway sends them over AS2 (MDNs); Amazon checks each like Amazon would and answers
   with 997s, which the gateway matches.
6. The transaction log and each PO's chain are printed; exit 0 when every document was
   accepted and every chain is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gateway.erp import PurchaseOrder, document_json, parse_document
from gateway.errors import ConfigError
from gateway.sandbox import erp as vendor_erp
from gateway.sandbox.amazon import AMAZON_AS2, FIXTURES, SimulatedAmazon, Vendor, now_utc
from gateway.sandbox.scenarios import Scenario, load_scenarios
from gateway.store import Store

MARKER = ".acorn-demo"
VENDOR_AS2 = "ACMEVENDOR"
VENDOR_X12 = ("ZZ", "ACMEVENDOR")


@dataclass
class DemoResult:
    """What the demo did: the POs, what Amazon saw, and whether all went well."""

    directory: Path
    po_numbers: list[str] = field(default_factory=list)
    amazon_sets: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    chains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ok: bool = False
    config: Path | None = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(directory: Path) -> None:
    """An empty demo directory: a previous demo's is replaced, anything else refused."""
    if directory.exists():
        if not (directory / MARKER).exists():
            raise ConfigError(f"{directory} exists and is not a demo directory; choose another")
        shutil.rmtree(directory)
    (directory / "keys").mkdir(parents=True)
    (directory / MARKER).write_text("made by acorn demo; replaced by the next one\n")
    for name in ("acme.cert.pem", "acme.key.pem", "amazon.cert.pem"):
        shutil.copyfile(FIXTURES / "keys" / name, directory / "keys" / name)
    os.chmod(directory / "keys" / "acme.key.pem", 0o600)


def _vendor_config(directory: Path, amazon_url: str, port: int) -> Path:
    config = directory / "acorn.toml"
    config.write_text(f"""# The demo vendor's gateway (made by `acorn demo`). Try:
#   acorn tx list --config {config}
#   acorn po status SBX1000001 --config {config}
#   acorn run --config {config}      (the simulated Amazon is not running any more)
[gateway]
database = "sqlite:///acorn.db"
erp_inbox = "erp/inbox"
erp_outbox = "erp/outbox"
http_port = {port}

[schedule]
process_seconds = 0.5
outbox_seconds = 0.5
send_seconds = 0.5
clocks_seconds = 5
notify_seconds = 5

[as2]
as2_id = "{VENDOR_AS2}"
[as2.key]
certificate = "keys/acme.cert.pem"
private_key = "keys/acme.key.pem"

[[partners]]
name = "amazon"
id = "ZZ:AMAZON"
our_id = "{VENDOR_X12[0]}:{VENDOR_X12[1]}"
usage = "T"
transport = "as2"
[partners.as2]
as2_id = "{AMAZON_AS2}"
url = "{amazon_url}"
certificates = ["keys/amazon.cert.pem"]
""", encoding="utf-8")
    for folder in ("erp/inbox", "erp/outbox"):
        (directory / folder).mkdir(parents=True, exist_ok=True)
    return config


def _start_gateway(config: Path, port: int, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ACORN_LOG_FORMAT": "json"}
    env.pop("ACORN_CRASHPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"acorn run did not start; see {log}")
    return process


def _wait(condition: Callable[[], bool], what: str, timeout: float, tick: Callable[[], Any]
          ) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo waited {timeout:.0f} s for {what}")
        tick()
        time.sleep(0.2)


def _write_export(outbox: Path, name: str, document: Any) -> None:
    """As a careful ERP writes: a temporary name, then a rename."""
    temporary = outbox / f".{name}.tmp"
    temporary.write_text(document_json(document), encoding="utf-8")
    os.replace(temporary, outbox / name)


def _erp_answers(directory: Path, orders: list[PurchaseOrder],
                 scenarios: dict[str, Scenario]) -> None:  # fmt: skip
    """The demo ERP: an 855, an 856 and an 810 for each PO, per its scenario."""
    today = now_utc().date()
    cartons = vendor_erp.ssccs(first_serial=int(time.time()) % 100_000_000)
    sequence = 0
    for order in orders:
        ack = vendor_erp.acknowledgment(order, scenarios[order.po_number].decisions, today=today)
        documents = [("855", ack), ("856", vendor_erp.ship_notice(order, ack, cartons,
                                                                    today=today)),
                     ("810", vendor_erp.invoice(order, ack, today=today))]  # fmt: skip
        for kind, document in documents:
            sequence += 1
            _write_export(directory / "erp" / "outbox",
                          f"{sequence:03d}-{kind}-{order.po_number}.json", document)


def _acks_complete(config: Path, po_numbers: list[str]) -> bool:
    """Every outbound group of the vendor (855, 856, 810) has Amazon's 997."""
    from gateway.config import load_config
    from gateway.pipeline.operator import po_chain

    store = Store(load_config(config).gateway.database)
    try:
        for po in po_numbers:
            chain = po_chain(store, po)
            sent = [s for link in chain for s in link.get("sent", [])]
            answered = [s for s in sent if s["state"] == "sent" and s["acknowledgment"]
                        and s["acknowledgment"]["status"] not in (None, "pending", "overdue")]
            if len(answered) < 3:
                return False
        return True
    finally:
        store.dispose()


def run_demo(directory: Path, *, out: TextIO = sys.stdout, timeout: float = 120) -> DemoResult:
    """Run the demo in ``directory`` (see the module docstring)."""
    directory = directory.resolve()
    result = DemoResult(directory)
    _prepare(directory)
    port = _free_port()
    scenarios = load_scenarios(today=now_utc().date(), demo_only=True)
    by_po = {s.purchase_order.po_number: s for s in scenarios}
    amazon = SimulatedAmazon(
        directory / "amazon",
        Vendor(VENDOR_AS2, VENDOR_X12, f"http://127.0.0.1:{port}/as2",
               directory / "keys" / "acme.cert.pem"),
    )  # fmt: skip
    config = _vendor_config(directory, amazon.url, port)
    result.config = config
    print(f"demo: {directory}\nsimulated Amazon (AS2 {AMAZON_AS2}) at {amazon.url}", file=out)
    with amazon:
        gateway = _start_gateway(config, port, directory / "acorn-run.log")
        print(f"gateway (AS2 {VENDOR_AS2}) at http://127.0.0.1:{port}/as2: acorn run", file=out)
        try:
            _cycle(directory, config, amazon, scenarios, by_po, result, out, timeout)
        finally:
            gateway.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                gateway.wait(20)
    result.amazon_sets = amazon.received_sets()
    result.rejected = [f"{s} {c}: {p.message}" for seen in amazon.seen if seen.verdict
                       for s, c, p in seen.verdict.problems]  # fmt: skip
    _conclude(config, result)
    return result


def _cycle(directory: Path, config: Path, amazon: SimulatedAmazon, scenarios: list[Scenario],
           by_po: dict[str, Scenario], result: DemoResult, out: TextIO,
           timeout: float) -> None:  # fmt: skip
    orders = [s.purchase_order for s in scenarios]
    result.po_numbers = [o.po_number for o in orders]
    amazon.send_purchase_orders(orders)
    with amazon.pipeline.store.transaction() as tx:
        states = [e.state for e in tx.exchanges() if e.direction == "out"]
    print(f"Amazon -> 850 x{len(orders)} over AS2 ({', '.join(result.po_numbers)}): "
          f"{states.count('sent')} MDNs 'processed'", file=out)  # fmt: skip
    inbox = directory / "erp" / "inbox"
    _wait(lambda: len(list(inbox.glob("*.json"))) >= len(orders), "the POs in the ERP inbox",
          timeout, amazon.answer)  # fmt: skip
    delivered = [parse_document(p.read_bytes()) for p in sorted(inbox.glob("*.json"))]
    print(f"ERP inbox <- {len(delivered)} purchase orders as JSON", file=out)
    _wait(lambda: amazon.received_sets().count("997") >= len(orders),
          "the gateway's 997s at Amazon", timeout, amazon.answer)  # fmt: skip
    print(f"Amazon <- {amazon.received_sets().count('997')} 997s for its 850s", file=out)
    _erp_answers(directory, [o for o in delivered if isinstance(o, PurchaseOrder)], by_po)
    print("ERP outbox -> an 855 (accepted, backordered, rejected lines), an 856 (SSCC "
          "cartons) and an 810 per PO", file=out)  # fmt: skip
    wanted = 3 * len(orders)
    _wait(lambda: len([s for s in amazon.received_sets() if s != "997"]) >= wanted,
          "the 855s, 856s and 810s at Amazon", timeout, amazon.answer)  # fmt: skip
    print(f"Amazon <- {wanted} documents over AS2, checked; 997s sent back", file=out)
    _wait(lambda: _acks_complete(config, result.po_numbers), "Amazon's 997s matched",
          timeout, amazon.answer)  # fmt: skip
    print("gateway <- Amazon's 997s, matched to every document", file=out)


def _conclude(config: Path, result: DemoResult) -> None:
    """Each PO's chain, and whether every document was accepted and every chain is complete."""
    from gateway.pipeline.operator import po_chain

    store = Store(f"sqlite:///{result.directory / 'acorn.db'}")
    try:
        for po in result.po_numbers:
            result.chains[po] = po_chain(store, po)
    finally:
        store.dispose()
    complete = all(_acks_complete(config, [po]) for po in result.po_numbers)
    result.ok = complete and not result.rejected and len(result.po_numbers) == 3
