"""AS2 under load: signed and encrypted 850s from concurrent clients against ``acorn serve``.

The gateway runs as its own process (``acorn serve`` on an ephemeral port of 127.0.0.1, on
SQLite, as a supplier would run it); the clients are threads of this process, each posting
messages built beforehand by "Amazon" (our own builder with Amazon's test key, encrypted for
the gateway's certificate) and timing each POST until its MDN is read. Afterwards every MDN
is checked (signature against the gateway's certificate, ``processed``, the MIC Amazon
computed), ``acorn process`` delivers the purchase orders, and the ERP inbox must hold
exactly one file per message.

    python -m bench.bench_as2 [--messages 500] [--clients 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import interchange, purchase_order_set
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

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _config(root: Path) -> Path:
    keys = root / "keys"
    acme, amazon = make_identity(keys, "acme"), make_identity(keys, "amazon")
    acme_cert, acme_key, amazon_cert = acme.cert_path, acme.key_path, amazon.cert_path
    config = root / "acorn.toml"
    config.write_text(f"""[gateway]
database = "sqlite:///{root / 'acorn.db'}"
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


def _messages(root: Path, count: int) -> list[OutboundMessage]:
    """``count`` distinct 850 interchanges (2 to 20 KB), as Amazon would send them."""
    keys = root / "keys"
    amazon = cms.Signer(load_certificates(keys / "amazon.cert.pem")[0],
                        load_private_key(keys / "amazon.key.pem", None))  # fmt: skip
    acme = load_certificates(keys / "acme.cert.pem")[0]
    rng = random.Random(4130)
    out = []
    for number in range(1, count + 1):
        payload = interchange([purchase_order_set(rng, 1, rng.randint(5, 60))], number, number)
        out.append(build_message(payload, filename=f"po-{number}.edi", our_id="AMAZON",
                                 partner_id="ACMEVENDOR", signer=amazon, signature="sha256",
                                 recipient=acme, encryption="aes256-cbc"))  # fmt: skip
    return out


def _serve(config: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if not line.startswith("listening on "):
        server.kill()
        raise RuntimeError(f"acorn serve did not start: {line} {server.stderr.read()[:2000]}")
    return server, line.removeprefix("listening on ") + "/as2"


def run_load(messages: int = 500, clients: int = 20, root: Path | None = None) -> LoadResult:
    """Run the load (see the module docstring) and return the figures and checks."""
    with tempfile.TemporaryDirectory(prefix="acorn-as2-load-") as scratch:
        base = root or Path(scratch)
        config = _config(base)
        built = _messages(base, messages)
        server, url = _serve(config)
        try:
            def one(message: OutboundMessage) -> tuple[float, int, str, bytes]:
                started = time.perf_counter()
                answer = post(url, message.headers, message.body, connect_timeout=10,
                              read_timeout=120)  # fmt: skip
                return (time.perf_counter() - started, answer.status,
                        answer.headers.get("content-type", ""), answer.body)  # fmt: skip

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                answers = list(pool.map(one, built))
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)
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
        subprocess.run([sys.executable, "-m", "gateway", "process", "--config", str(config)],
                       capture_output=True, text=True, env={**os.environ,
                                                            "PYTHONPATH": str(REPO)})  # fmt: skip
        deliveries = len(list((base / "erp" / "inbox").glob("*.json")))
        return LoadResult(messages, clients, seconds, sum(a[1] == 200 for a in answers), valid,
                          deliveries, [a[0] for a in answers])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a markdown table (and ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_as2")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run_load(args.messages, args.clients)
    figures = {
        "messages": result.messages, "clients": result.clients,
        "seconds": round(result.seconds, 2), "messages_per_second": round(result.per_second, 1),
        "p50_ms": round(result.percentile(0.50) * 1000, 1),
        "p99_ms": round(result.percentile(0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(result.latencies) * 1000, 1),
        "http_200": result.ok_answers, "valid_mdns": result.valid_mdns,
        "deliveries": result.deliveries,
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
