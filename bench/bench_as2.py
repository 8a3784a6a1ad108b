"""AS2 under load: signed and encrypted 850s from concurrent clients against ``acorn serve``.

The gateway runs as its own process (``acorn serve`` on an ephemeral port of 127.0.0.1, on
SQLite, as a supplier would run it), or as several processes on one PostgreSQL database
(``--database URL --instances 2``: the clients are spread over them); the clients are
threads of this process, each posting messages built beforehand by "Amazon" (our own
builder with Amazon's test key, encrypted for the gateway's certificate) and timing each
POST until its MDN is read. Afterwards every MDN is checked (signature against the
gateway's certificate, ``processed``, the MIC Amazon computed), ``acorn process`` runs until
a pass does nothing (delivering the purchase orders and queueing the 997s), and the ERP
inbox must hold exactly one file per message. The servers' stderr is kept for the
reliability battery (T1: no "database is locked", no traceback).

    python -m bench.bench_as2 [--messages 500] [--clients 20] [--database URL] [--instances 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import interchange, purchase_order_set
from gateway.store import Store
from gateway.transports.as2 import cms
from gateway.transports.as2.certificates import load_certificates, load_private_key
from gateway.transports.as2.client import post
from gateway.transports.as2.mdn import read_mdn
from gateway.transports.as2.message import OutboundMessage, build_message
from tests.transports.as2.pki import make_identity

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured and checked."""

    messages: int
    clients: int
    seconds: float
    ok_answers: int
    valid_mdns: int
    deliveries: int
    latencies: list[float]
    statuses: list[int] = field(default_factory=list)  # the HTTP status of each POST
    instances: int = 1
    inbound_rows: int = 0  # AS2 messages received, in the store
    acks: int = 0  # 997s to Amazon (outbound acknowledgment exchanges), in the store
    ack_states: dict[str, int] = field(default_factory=dict)
    expected_po_numbers: list[str] = field(default_factory=list)  # BEG03 of each message
    erp_po_numbers: dict[str, int] = field(default_factory=dict)  # ERP files per PO number
    server_stderr: list[str] = field(default_factory=list)  # one text per ``acorn serve``
    process_stderr: str = ""  # of the ``acorn process`` passes

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _config(root: Path, database_url: str | None = None) -> Path:
    keys = root / "keys"
    acme, amazon = make_identity(keys, "acme"), make_identity(keys, "amazon")
    acme_cert, acme_key, amazon_cert = acme.cert_path, acme.key_path, amazon.cert_path
    config = root / "acorn.toml"
    config.write_text(f"""[gateway]
database = "{database_url or f'sqlite:///{root / "acorn.db"}'}"
erp_inbox = "{root / 'erp' / 'inbox'}"
erp_outbox = "{root / 'erp' / 'outbox'}"
settle_seconds = 0

[as2]
as2_id = "ACMEVENDOR"
[as2.key]
certificate = "{acme_cert}"
private_key = "{acme_key}"

[[partners]]
name = "amazon"
id = "ZZ:AMAZON"
our_id = "ZZ:ACMEVENDOR"
transport = "as2"
[partners.as2]
as2_id = "AMAZON"
url = "http://127.0.0.1:9/as2"
certificates = ["{amazon_cert}"]
max_attempts = 1
""", encoding="utf-8")
    return config


def _messages(root: Path, count: int) -> tuple[list[OutboundMessage], list[str]]:
    """``count`` distinct 850 interchanges (2 to 20 KB), as Amazon would send them, and
    their purchase order numbers (BEG03)."""
    keys = root / "keys"
    amazon = cms.Signer(load_certificates(keys / "amazon.cert.pem")[0],
                        load_private_key(keys / "amazon.key.pem", None))  # fmt: skip
    acme = load_certificates(keys / "acme.cert.pem")[0]
    rng = random.Random(4130)
    out, numbers = [], []
    for number in range(1, count + 1):
        payload = interchange([purchase_order_set(rng, 1, rng.randint(5, 60))], number, number)
        numbers += po_numbers(payload)
        out.append(build_message(payload, filename=f"po-{number}.edi", our_id="AMAZON",
                                 partner_id="ACMEVENDOR", signer=amazon, signature="sha256",
                                 recipient=acme, encryption="aes256-cbc"))  # fmt: skip
    return out, numbers


_BEG03 = re.compile(rb"BEG\*\d\d\*[A-Z]{2}\*([^*~]+)")


def po_numbers(payload: bytes) -> list[str]:
    """The purchase order numbers (BEG03) of an 850 interchange."""
    return [m.decode("ascii") for m in _BEG03.findall(payload)]


def serve(config: Path, stderr: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``acorn serve --config CONFIG --port 0`` (its stderr to the file ``stderr``,
    so that a long run never blocks on a full pipe); returns the process and its AS2 URL."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with stderr.open("ab") as errors:
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", "0",
             *extra], stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
        )  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if not line.startswith("listening on "):
        server.kill()
        server.wait(30)
        raise RuntimeError(f"acorn serve did not start: {line} "
                           f"{stderr.read_text(errors='replace')[:2000]}")  # fmt: skip
    return server, line.removeprefix("listening on ") + "/as2"


def stop(server: subprocess.Popen[str]) -> None:
    """SIGTERM, then wait for a clean exit (killed after 30 s)."""
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(30)


def process_until_quiet(config: Path, max_passes: int = 10) -> str:
    """``acorn process --json`` until a pass does nothing; returns the passes' stderr."""
    errors = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(max_passes):
        run = subprocess.run([sys.executable, "-m", "gateway", "process", "--config",
                              str(config), "--json"], capture_output=True, text=True,
                             env=env, timeout=900)  # fmt: skip
        errors.append(run.stderr)
        try:
            figures = json.loads(run.stdout)
        except ValueError:
            break
        if not any(v for v in figures.values() if isinstance(v, int)):
            break
    return "".join(errors)


def _store_counts(database_url: str) -> tuple[int, int, dict[str, int]]:
    """Inbound AS2 rows, outbound 997 exchanges and the 997s' states, from the store."""
    store = Store(database_url)
    try:
        with store.transaction() as tx:
            rows = len(tx.as2_messages(direction="in"))
            acks = [e for e in tx.exchanges() if e.direction == "out" and e.kind == "ack"]
        return rows, len(acks), dict(Counter(e.state for e in acks))
    finally:
        store.dispose()


def run_load(messages: int = 500, clients: int = 20, root: Path | None = None, *,
             database_url: str | None = None, instances: int = 1) -> LoadResult:
    """Run the load (see the module docstring) and return the figures and checks. The
    gateway's database is ``database_url`` (default: SQLite under ``root``); ``instances``
    ``acorn serve`` processes share it, message ``i`` going to instance ``i % instances``."""
    if instances > 1 and database_url is None:
        raise ValueError("several instances need a shared database_url (PostgreSQL)")
    with tempfile.TemporaryDirectory(prefix="acorn-as2-load-") as scratch:
        base = root or Path(scratch)
        config = _config(base, database_url)
        database = database_url or f"sqlite:///{base / 'acorn.db'}"
        Store(database).upgrade()  # the schema once, before the instances race to make it
        built, expected = _messages(base, messages)
        errors = [base / f"serve-{n}.stderr" for n in range(instances)]
        servers: list[tuple[subprocess.Popen[str], str]] = []
        try:
            for path in errors:
                servers.append(serve(config, path))

            def one(numbered: tuple[int, OutboundMessage]) -> tuple[float, int, str, bytes]:
                number, message = numbered
                url = servers[number % len(servers)][1]
                started = time.perf_counter()
                answer = post(url, message.headers, message.body, connect_timeout=10,
                              read_timeout=120)  # fmt: skip
                return (time.perf_counter() - started, answer.status,
                        answer.headers.get("content-type", ""), answer.body)  # fmt: skip

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                answers = list(pool.map(one, enumerate(built)))
            seconds = time.perf_counter() - started
        finally:
            for server, _ in servers:
                stop(server)
        acme = load_certificates(base / "keys" / "acme.cert.pem")[0]
        valid = 0
        for message, (_, status, content_type, body) in zip(built, answers, strict=True):
            if status != 200:
                continue
            mdn = read_mdn(content_type, body, trusted=[acme], now=datetime.now(UTC),
                           require_signed=True, allowed_digests=("sha256",))  # fmt: skip
            if (mdn.disposition.ok and mdn.mic is not None and mdn.mic.matches(message.mic)
                    and mdn.original_message_id == message.message_id):
                valid += 1
        process_stderr = process_until_quiet(config)
        files = list((base / "erp" / "inbox").glob("*.json"))
        delivered = Counter(json.loads(f.read_text(encoding="utf-8"))["po_number"] for f in files)
        rows, acks, ack_states = _store_counts(database)
        return LoadResult(
            messages, clients, seconds, sum(a[1] == 200 for a in answers), valid, len(files),
            [a[0] for a in answers], statuses=[a[1] for a in answers], instances=instances,
            inbound_rows=rows, acks=acks, ack_states=ack_states,
            expected_po_numbers=expected,
            erp_po_numbers=dict(delivered),
            server_stderr=[p.read_text(encoding="utf-8", errors="replace") for p in errors],
            process_stderr=process_stderr,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a markdown table (and ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_as2")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--database", help="the gateway's database URL (default: SQLite)")
    parser.add_argument("--instances", type=int, default=1,
                        help="acorn serve processes on the one database (needs --database)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run_load(args.messages, args.clients, database_url=args.database,
                      instances=args.instances)  # fmt: skip
    figures = {
        "messages": result.messages, "clients": result.clients,
        "seconds": round(result.seconds, 2), "messages_per_second": round(result.per_second, 1),
        "instances": result.instances,
        "p50_ms": round(result.percentile(0.50) * 1000, 1),
        "p95_ms": round(result.percentile(0.95) * 1000, 1),
        "p99_ms": round(result.percentile(0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(result.latencies) * 1000, 1),
        "http_200": result.ok_answers, "valid_mdns": result.valid_mdns,
        "deliveries": result.deliveries, "inbound_rows": result.inbound_rows,
        "acks_997": result.acks,
    }  # fmt: skip
    if args.json:
        print(json.dumps(figures))
        return
    print("| measure | figure |\n| --- | ---: |")
    for name, value in figures.items():
        print(f"| {name} | {value} |")
    if not result.ok_answers == result.valid_mdns == result.deliveries == result.messages:
        raise SystemExit("load check failed: every message must get a 200, a valid MDN and "
                         "exactly one delivery")


if __name__ == "__main__":
    main()
