"""T1 of the reliability battery (reliability.md section 4): concurrent AS2.

Distinct signed and encrypted 850s (2 to 20 KB) from concurrent clients, each asking for a
synchronous signed MDN, against ``acorn serve`` running as its own process: on SQLite with
one instance, and on PostgreSQL with two instances on the one database (the clients spread
over both). The load is bench/bench_as2.py's (``run_load``), at the battery's scale: 1,000
messages from 50 clients at full scale, 60 from 10 in CI.

Pass: every POST a 200 with a signed ``processed`` MDN carrying the sender's MIC; exactly
one inbound AS2 row per message; after ``acorn process``, one ERP file per purchase order
(each PO once) and one 997 per message in the store (their sending stays failed or
queued: the partner URL is unreachable on purpose); no 5xx; no "database is locked" and
no traceback in the servers' stderr. Latency p50/p95/p99 is recorded; the p95 bound is the
one calibrated on the project's 2-core machine at full scale (see ``P95_BOUND``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.bench_as2 import run_load
from tests.reliability.battery import Battery, count_tracebacks, scaled

#: p95 of a POST (until its MDN is read), in seconds, asserted at full scale only: 50
#: clients on 2 cores. Calibrated once at full scale on the project's 2-core machine
#: (reliability.md T1 "calibrate once, then fixed"); the CI scale records it only, since
#: other suites share those cores.
P95_BOUND = 2.0


@pytest.mark.battery("T1")
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_t1_concurrent_signed_encrypted_posts_each_get_one_mdn_one_row_one_po_one_997(
    database: str, battery: Battery, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """N distinct messages from concurrent clients: N x (200 + signed processed MDN with
    the sender's MIC), N inbound rows, N ERP files (each PO once), N 997s, 0 5xx, 0
    "database is locked", 0 tracebacks; on PostgreSQL through two ``acorn serve``."""
    messages, clients = scaled(60, 1000), scaled(10, 50)
    if database == "postgresql":
        new_database: Callable[[], str] = request.getfixturevalue("postgresql_databases")
        url, instances = new_database(), 2
    else:
        url, instances = None, 1
    result = run_load(messages, clients, tmp_path / "load", database_url=url,
                      instances=instances)  # fmt: skip

    expected = result.expected_po_numbers
    assert len(set(expected)) == len(expected) == messages  # distinct purchase orders
    server_errors = sum(1 for s in result.statuses if s >= 500)
    locked = sum(text.count("database is locked")
                 for text in [*result.server_stderr, result.process_stderr])  # fmt: skip
    tracebacks = count_tracebacks(*result.server_stderr, result.process_stderr)
    missing_pos = [po for po in expected if po not in result.erp_po_numbers]
    extra_copies = sum(n - 1 for n in result.erp_po_numbers.values() if n > 1)
    lost = (messages - result.valid_mdns) + len(missing_pos) + max(0, messages - result.acks)
    twice = (extra_copies + max(0, result.inbound_rows - messages)
             + max(0, result.acks - messages))  # fmt: skip
    p50, p95, p99 = (round(result.percentile(f), 3) for f in (0.50, 0.95, 0.99))
    battery.record(
        messages, lost=lost, delivered_twice=twice, unhandled_exceptions=server_errors + tracebacks,
        what=f"{messages} signed+encrypted 850s (2-20 KB), {clients} clients, sync signed MDN, "
             f"{instances} acorn serve on {database}",
        database=database, clients=clients, instances=instances,
        seconds=round(result.seconds, 2), messages_per_second=round(result.per_second, 1),
        p50_s=p50, p95_s=p95, p99_s=p99, max_s=round(max(result.latencies), 3),
        http_200=result.ok_answers, http_5xx=server_errors, valid_mdns=result.valid_mdns,
        inbound_rows=result.inbound_rows, erp_files=result.deliveries, acks_997=result.acks,
        ack_states=result.ack_states, database_locked=locked, tracebacks=tracebacks,
    )  # fmt: skip
    assert result.statuses == [200] * messages
    assert result.valid_mdns == messages
    assert result.inbound_rows == messages
    assert result.deliveries == messages and missing_pos == [] and extra_copies == 0
    assert result.acks == messages
    assert locked == 0 and tracebacks == 0
    if battery.scale == "full":
        assert p95 <= P95_BOUND, f"p95 {p95} s over the calibrated {P95_BOUND} s"
