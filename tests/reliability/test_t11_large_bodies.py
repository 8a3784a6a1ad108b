"""T11 of the reliability battery (reliability.md section 4): large AS2 bodies.

``acorn serve`` runs as its own process with the AS2 body limit: the 50 MB default at full
scale, a configured 5 MB in CI. Bodies of 0.99x, 1x and 1.01x the limit are posted, each
once with a Content-Length and once chunked without one:

* over the limit: HTTP 413, no exchange and no stored body (only the bounded ``refused``
  audit row of T5 h), and the server read at most the limit + 64 KB of the body. The bound
  is measured from the client: the body goes fast up to 256 KB before the limit (chunked;
  from the start with a Content-Length, which is refused on the header), then in 8 KB
  pieces 20 ms apart, stopping when the answer comes: the server cannot have read more
  than what was sent by then; and the 413 closes the connection (``Connection: close``),
  so the server does not go on reading and discarding the rest;
* at or under the limit: a real signed and encrypted 850 (many PO1 lines from
  bench.corpus) that is processed: a signed ``processed`` MDN with the sender's MIC, the
  payload stored byte for byte; the server's peak RSS growth (``VmHWM`` of
  /proc/<pid>/status, reset through ``clear_refs`` before each POST, after one small
  warm-up message) is at most 8x the body.

The valid bodies are sized to the byte: the enveloped data is sent base64-encoded (which
RFC 4130 agents do, without a Content-Transfer-Encoding header) and padded with line
breaks, which base64 ignores.
"""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.bench_as2 import serve, stop
from bench.corpus import interchange, purchase_order_set
from gateway.config import As2Station
from gateway.store import Store
from gateway.transports.as2 import cms
from gateway.transports.as2.mdn import read_mdn
from gateway.transports.as2.message import OutboundMessage
from gateway.transports.as2.mime import base64_lines
from tests.pipeline.as2_sim import Site, amazon_message, as2_site
from tests.reliability.battery import Battery, count_tracebacks, scaled

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
SLACK = 64 * 1024  # reliability.md policy: 413 after reading at most limit + 64 KB
CHUNK = 64 * 1024  # the client's pieces, up to the paced part
PACED, PAUSE = 8 * 1024, 0.02  # then pieces of 8 KB, 20 ms apart


def _status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert found is not None, field
    return int(found.group(1))


def _reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS (proc(5): clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Posted:
    """One POST: the answer, and the body bytes the client had sent when it came (the
    server cannot have read more)."""

    status: int
    content_type: str
    body: bytes
    sent_at_answer: int
    connection: str  # the answer's Connection header ("close": the rest is not read)


def _post(port: int, headers: list[tuple[str, str]], body: bytes, *, chunked: bool,
          fast_until: int) -> Posted:  # fmt: skip
    """POST ``body`` to /as2 (with Content-Length, or chunked without one) from a thread:
    the first ``fast_until`` bytes at once, the rest in PACED pieces PAUSE apart, stopping
    as soon as the answer comes; what was sent by then bounds what the server read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.putrequest("POST", "/as2", skip_accept_encoding=True)
    for name, value in headers:
        if name.lower() not in ("content-length", "transfer-encoding"):
            connection.putheader(name, value)
    if chunked:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    answered = threading.Event()
    sent = [0]

    def send() -> None:
        try:
            while sent[0] < len(body) and not answered.is_set():
                size = CHUNK if sent[0] < fast_until else PACED
                piece = body[sent[0] : sent[0] + size]
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent[0] += len(piece)
                if sent[0] >= fast_until:
                    time.sleep(PAUSE)
            if chunked and sent[0] == len(body):
                connection.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered 413 and closed: that is the point

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    response = connection.getresponse()
    at_answer = sent[0]
    answered.set()
    data = response.read()
    content_type = response.getheader("Content-Type", "")
    closing = (response.getheader("Connection") or "").lower()
    connection.close()
    sender.join(30)
    return Posted(response.status, content_type, data, at_answer, closing)


def _payload(target: int, seed: int) -> bytes:
    """A real 850 interchange (one PO, many PO1 lines) of at most ``target`` bytes and
    close to it."""
    probe = interchange([purchase_order_set(random.Random(seed), 1, 200)], seed, seed)
    lines = max(1, int((target - 400) / (len(probe) / 200)))
    while True:
        payload = interchange([purchase_order_set(random.Random(seed), 1, lines)], seed, seed)
        if len(payload) <= target:
            return payload
        lines = int(lines * target / len(payload)) - 10


def _sized_message(site: Site, size: int, name: str, seed: int) -> tuple[OutboundMessage, bytes,
                                                                        bytes]:  # fmt: skip
    """A signed and encrypted message from Amazon whose HTTP body is exactly ``size`` bytes:
    the message, its body and its payload."""
    payload = _payload(int(size * 0.73) - 8192, seed)  # base64 of the DER: 4/3, CRLF/76
    message = amazon_message(site, payload, filename=name)
    body = base64_lines(message.body)
    assert len(body) <= size, (len(body), size)
    return message, body + b"\r\n" * ((size - len(body)) // 2) + b"\n" * ((size - len(body)) % 2), \
        payload


@pytest.mark.battery("T11")
def test_t11_bodies_around_the_limit_with_and_without_content_length(
    battery: Battery, tmp_path: Path, database_url: str
) -> None:
    """0.99x and 1x the limit: processed with a signed MDN carrying Amazon's MIC, stored
    byte for byte, peak RSS growth <= 8x the body; 1.01x: 413 after reading at most the
    limit + 64 KB, no exchange; each with Content-Length and chunked; on SQLite and on
    PostgreSQL (the body and payload stored as a BLOB or a bytea)."""
    limit = scaled(5 * MB, 50 * MB)
    assert As2Station.model_fields["body_limit"].default == 50 * MB  # the policy's default
    station = {"body_limit": limit} if limit != 50 * MB else {}
    database = database_url
    site = as2_site(tmp_path / "acme", database, station=station)
    site.sock.close()  # acorn serve takes its own port
    stderr = tmp_path / "serve.stderr"
    server, url = serve(site.config, stderr)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    cases: list[dict[str, object]] = []
    expected_processed: dict[str, tuple[OutboundMessage, bytes]] = {}
    try:
        warm_up = amazon_message(site, (REPO / "sandbox_fixtures" / "golden" / "850" /
                                        "cn_consigned_cases.edi").read_bytes())  # fmt: skip
        assert _post(port, list(warm_up.headers), warm_up.body, chunked=False,
                     fast_until=len(warm_up.body)).status == 200  # fmt: skip
        for factor in (0.99, 1.0, 1.01):
            size = int(limit * factor)
            for chunked in (False, True):
                name = f"po-{factor}-{'chunked' if chunked else 'length'}.edi"
                if factor > 1:
                    message = amazon_message(site, b"ISA", filename=name)
                    body = bytes(size)
                else:
                    message, body, payload = _sized_message(site, size, name,
                                                            seed=len(cases) + 1)  # fmt: skip
                    expected_processed[message.message_id] = (message, payload)
                assert len(body) == size
                _reset_peak(server.pid)
                rss_before = _status_kb(server.pid, "VmRSS")
                fast = size if factor <= 1 else (limit - 256 * 1024 if chunked else 0)
                posted = _post(port, list(message.headers), body, chunked=chunked,
                               fast_until=fast)  # fmt: skip
                growth = (_status_kb(server.pid, "VmHWM") - rss_before) * 1024
                case = {"factor": factor, "chunked": chunked, "size": size,
                        "status": posted.status, "sent_at_answer": posted.sent_at_answer,
                        "connection": posted.connection,
                        "rss_growth": growth, "message_id": message.message_id}  # fmt: skip
                if factor <= 1 and posted.status == 200:
                    mdn = read_mdn(posted.content_type, posted.body,
                                   trusted=[site.identity.certificate], now=datetime.now(UTC),
                                   require_signed=True, allowed_digests=cms.DIGESTS)  # fmt: skip
                    case["mdn_ok"] = (mdn.disposition.ok and mdn.mic is not None
                                      and mdn.mic.matches(message.mic))  # fmt: skip
                cases.append(case)
                time.sleep(0.2)
    finally:
        stop(server)
    errors = stderr.read_text(errors="replace")
    store = Store(database)
    try:
        with store.transaction() as tx:
            rows = {r.message_id: r for r in tx.as2_messages(direction="in")}
            stored = {m: tx.payload(r.exchange_id) if r.exchange_id else None
                      for m, r in rows.items()}  # fmt: skip
            exchanges = [e for e in tx.exchanges() if e.direction == "in"
                         and e.file_name.startswith("po-")]  # fmt: skip
            bodies = {m: tx.as2_body(r.id) for m, r in rows.items()}
    finally:
        store.dispose()

    under = [c for c in cases if c["factor"] <= 1]  # type: ignore[operator]
    over = [c for c in cases if c["factor"] > 1]  # type: ignore[operator]
    lost = sum(1 for c in under if not (c["status"] == 200 and c.get("mdn_ok")
                                        and stored.get(c["message_id"])  # type: ignore[arg-type]
                                        == expected_processed[c["message_id"]][1]))  # type: ignore[index]
    unhandled = sum(1 for c in cases if int(c["status"]) >= 500) + count_tracebacks(errors)  # type: ignore[call-overload]
    worst_ratio = max(int(c["rss_growth"]) / int(c["size"]) for c in under)  # type: ignore[call-overload]
    worst_over_read = max(int(c["sent_at_answer"]) - limit for c in over)  # type: ignore[call-overload]
    battery.record(
        len(cases), lost=lost, unhandled_exceptions=unhandled,
        what=f"bodies of 0.99x/1x/1.01x a {limit // MB} MB limit, with Content-Length and "
             "chunked, against acorn serve",
        limit=limit,
        cases=[{k: v for k, v in c.items() if k != "message_id"} for c in cases],
        peak_rss_growth_over_body=round(worst_ratio, 2),
        most_read_past_the_limit=worst_over_read,
    )  # fmt: skip
    for case in under:
        assert case["status"] == 200 and case["mdn_ok"], case
        assert case["rss_growth"] <= 8 * int(case["size"]), case  # type: ignore[call-overload]
    for case in over:
        assert case["status"] == 413, case
        # Kept alive, the server would go on reading and discarding the rest of the body.
        assert case["connection"] == "close", case
        assert case["sent_at_answer"] <= limit + SLACK, case  # type: ignore[operator]
        row = rows[case["message_id"]]  # type: ignore[index]
        assert row.status == "refused" and row.exchange_id is None
        assert bodies[case["message_id"]] is None  # type: ignore[index]
    assert len(exchanges) == len(under)
    assert {r.status for m, r in rows.items() if m in expected_processed} == {"processed"}
