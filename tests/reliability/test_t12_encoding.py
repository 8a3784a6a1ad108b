"""T12, encodings through the pipeline (reliability.md section 4), on SQLite and PostgreSQL.

A seed 850 as partners really send it, or break it: with a UTF-8 BOM, CRLF after each
``~``, ``\\n`` as the segment terminator, Latin-1 bytes in data, invalid UTF-8, wrapped at
80 columns (mainframe style: lines cut inside segments), as UTF-16, and binary junk. Each
is dropped into the folder the gateway polls and processed by real passes. Pass: each ends
delivered (the PO once in the ERP), or rejected (answered by a 997 or a TA1) or quarantined
with a reason; no pass fails, no traceback; and the bytes the store keeps are the sender's,
byte for byte (sha256 and content). AS2 (CRLF signed and encrypted) is
tests/web/test_as2_openssl_interop.py.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.transports import sha256_of
from tests.pipeline.pipeline_sim import TERMINAL_STATES, Erp, make_home, read_store
from tests.reliability.test_t4_fuzz import Case, Drive, drive_cases, judge, seed_850


def _wrap80(data: bytes) -> bytes:
    return b"\n".join(data[i : i + 80] for i in range(0, len(data), 80))


def encodings() -> list[tuple[Case, set[str]]]:
    """The inputs and the states each may end in."""
    cases: list[tuple[Case, set[str]]] = []

    def add(index: int, what: str, change: Any, allowed: set[str], shape: int = 1) -> None:
        data, pos = seed_850(shape, 700_000 + index)
        cases.append((Case(f"T12_{index:02d}_{what}.edi", change(data), what, shape, tuple(pos)),
                      allowed))  # fmt: skip

    sent = {"rejected", "quarantined"}
    add(1, "bom", lambda d: b"\xef\xbb\xbf" + d, {"delivered"})
    add(2, "crlf", lambda d: d.replace(b"~\n", b"~\r\n"), {"delivered"})
    add(3, "lf-terminator", lambda d: d.replace(b"~\n", b"\n"), {"delivered"})
    add(4, "cr-terminator-crlf", lambda d: d.replace(b"~\n", b"\r\n"), {"delivered"} | sent)
    add(5, "latin1-in-data", lambda d: d.replace(b"N1*ST**92*", b"N1*ST*M\xfcller GmbH*92*"),
        sent | {"delivered"})  # fmt: skip
    add(6, "invalid-utf8", lambda d: d.replace(b"REF*CR*", b"REF*CR*\xc3\x28\xff"), sent)
    add(7, "utf8-in-data", lambda d: d.replace(b"N1*ST**92*", "N1*ST*Café*92*".encode()),
        sent | {"delivered"})  # fmt: skip
    add(8, "wrapped-80", _wrap80, sent)
    add(9, "utf16", lambda d: d.decode("ascii").encode("utf-16"), {"quarantined"})
    add(10, "binary", lambda d: random.Random(12).randbytes(4096), {"quarantined"})
    add(11, "junk-after-iea", lambda d: d + random.Random(13).randbytes(64), sent | {"delivered"})
    add(12, "nul-padding", lambda d: d + b"\0" * 512, sent | {"delivered"})
    return cases


@pytest.mark.battery("T12")
def test_t12_encodings_end_terminal_and_the_store_keeps_the_senders_bytes(
    tmp_path: Path, database_url: str, battery: Any, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Every encoding case ends in a state it may end in (delivered, or rejected/quarantined
    with a reason and, when rejected, an answer), no pass fails, and the stored raw bytes
    equal the sender's (sha256 and content)."""
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    home = make_home(tmp_path / "home", database_url)
    table = encodings()
    cases = [case for case, _ in table]
    erp, drive = Erp(home), Drive()
    drive_cases(home, cases, erp, drive, capfd)
    verdict = judge(home, cases, erp, drive)
    rows = {e.file_name: e for e in read_store(home.database_url).exchanges
            if e.direction == "in"}  # fmt: skip
    unexpected, same_sha = [], 0
    for case, allowed in table:
        row = rows[case.name]
        assert row.state in TERMINAL_STATES
        if row.state not in allowed:
            unexpected.append((case.operator, row.state, row.reason))
        if row.state != "delivered":
            assert row.reason, case.operator
        same_sha += row.sha256 == sha256_of(case.data) and row.size == len(case.data)
    assert not unexpected, unexpected
    assert verdict.unanswered_rejects == verdict.ack_map_errors == 0, verdict.problems
    delivered = {rows[c.name].state for c in cases[:3]}
    assert delivered == {"delivered"}  # BOM, CRLF, \n terminator: parsed and delivered
    states = Counter(f"{c.operator}: {rows[c.name].state}" for c in cases)
    battery.record(
        len(cases), lost=verdict.lost + (len(cases) - same_sha),
        delivered_twice=verdict.delivered_twice,
        unhandled_exceptions=drive.tracebacks + drive.failed_passes, database=database,
        what="BOM, CRLF, \\n terminator, Latin-1, invalid UTF-8, UTF-8, 80-column wrap, "
             "UTF-16, binary, junk after IEA, NUL padding",
        stored_bytes_equal=same_sha, outcomes=dict(sorted(states.items())),
        reasons_unlocated=verdict.reasons_unlocated,
    )  # fmt: skip
