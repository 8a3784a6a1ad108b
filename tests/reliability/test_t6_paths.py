"""T6 end to end, path traversal from data (reliability.md section 4), on SQLite and
PostgreSQL.

The ERP file of a purchase order is named from partner data: ``amazon-<BEG03>.json``. A PO
number holding ``/``, ``..``, ``../../x``, ``\\`` is valid X12 (BEG03 is AN), hostile as a
path. Before the fix, ``safe_name`` refused such a name at delivery, ``deliver()`` logged
``delivery_failed`` and released the row, and the exchange stayed ``delivering`` for ever.
Now the order is delivered under a safe name derived from it
(:func:`gateway.transports.derive_safe_name`, event ``delivery_name_derived``), the JSON
keeping the PO number as sent; NUL and newline never get that far (the X12 reader rejects
them in BEG03, answered by a 997 AK5 R). Nothing is written outside the gateway's folders
(a snapshot of the whole temporary tree before and after).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import interchange, purchase_order_set
from gateway.pipeline import inbound
from gateway.store import Store
from gateway.transports import derive_safe_name, safe_name
from tests.pipeline.pipeline_sim import TERMINAL_STATES, Erp, GatewayHome, make_home, read_store
from tests.reliability.test_t4_fuzz import Case, Drive, drive_cases, judge

HOSTILE_PO_NUMBERS = ("A/B", "..", "../../x", "..\\x", "a\\b", "/etc/x", "../../../../tmp/t6",
                      "a\0b", "a\nb", "x/../../y")  # fmt: skip


def _cases(start: int) -> list[Case]:
    """One 850 per hostile PO number, then the first three again in a new interchange (a
    repeated PO gets a name with ISA13 and ST02, derived too)."""
    cases = []
    numbers = [*HOSTILE_PO_NUMBERS, *HOSTILE_PO_NUMBERS[:3]]
    for index, po in enumerate(numbers):
        segments = purchase_order_set(random.Random(index), 1, 2)
        beg = segments[1].split("*")
        beg[3] = po
        segments[1] = "*".join(beg)
        data = interchange([segments], isa13=start + index, gs06=start + index)
        cases.append(Case(f"T6_{index:02d}.edi", data, "hostile BEG03", 0, (po,)))
    return cases


def _tree(top: Path) -> dict[str, str]:
    """Every entry under ``top`` (files by size, symlinks by target, directories)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            path = Path(dirpath) / entry
            key = str(path.relative_to(top))
            tree[key] = ("-> " + os.readlink(path) if path.is_symlink() else
                         "dir" if path.is_dir() else "file")  # fmt: skip
    return tree


def _outside_roots(home: GatewayHome, top: Path, before: dict[str, str]) -> list[str]:
    """Entries new or changed since ``before`` that are not under one of the gateway's
    folders (partner and ERP), its database, or what the simulators keep."""
    roots = [home.to_us, home.from_us, home.erp_inbox, home.erp_outbox,
             home.root / "partner" / "picked-up", home.root / "erp" / "taken"]  # fmt: skip
    allowed = [str(r.relative_to(top)) for r in roots]
    after = _tree(top)
    changed = [k for k, v in after.items() if before.get(k) != v]
    return [k for k in changed
            if not any(k == a or k.startswith(a + os.sep) for a in allowed)
            and not k.startswith("acorn-")]  # fmt: skip


def _run(tmp_path: Path, database_url: str, capfd: Any) -> tuple[GatewayHome, Erp, list[Case],
                                                                  Drive, list[str]]:  # fmt: skip
    top = tmp_path / "t6"
    (top / "outside").mkdir(parents=True)
    home = make_home(top / "home", database_url)
    before = _tree(top)
    cases = _cases(600)
    erp, drive = Erp(home), Drive()
    drive_cases(home, cases, erp, drive, capfd)
    return home, erp, cases, drive, _outside_roots(home, top, before)


@pytest.mark.battery("T6")
def test_t6_hostile_po_numbers_end_terminal_and_write_nothing_outside_the_roots(
    tmp_path: Path, database_url: str, battery: Any, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Each hostile PO number ends terminal: delivered under a safe derived name whose
    JSON keeps the PO number as sent (``/``, ``..``, ``\\``), or rejected with a 997 (NUL,
    newline); never left ``delivering``; every file the ERP got resolves inside its inbox;
    nothing written outside the gateway's folders."""
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    home, erp, cases, drive, outside = _run(tmp_path, database_url, capfd)
    verdict = judge(home, cases, erp, drive)
    view = read_store(home.database_url)
    rows = {e.file_name: e for e in view.exchanges if e.direction == "in"}
    states = {c.name: rows[c.name].state for c in cases}
    assert all(s in TERMINAL_STATES for s in states.values()), states
    delivered_pos = [po for _, po in erp.received]
    for case in cases:
        po = case.po_numbers[0]
        if "\0" in po or "\n" in po:
            assert states[case.name] == "rejected" and "BEG03" in (rows[case.name].reason or "")
        else:
            assert states[case.name] == "delivered", (po, rows[case.name])
    readable = [c.po_numbers[0] for c in cases if not {"\0", "\n"} & set(c.po_numbers[0])]
    assert sorted(delivered_pos) == sorted(readable)  # the JSON keeps the PO number as sent
    taken = list((home.root / "erp" / "taken").iterdir())
    for name, _po in erp.received:
        assert safe_name(name) == name
    real_inbox = os.path.realpath(home.erp_inbox)
    for document in view.documents:
        path = os.path.realpath(os.path.join(home.erp_inbox, document.delivery_name))
        assert path.startswith(real_inbox + os.sep), document.delivery_name
    with Store(home.database_url).transaction() as tx:
        derived = sum(kind == "delivery_name_derived" for row in rows.values()
                      for _, kind, _ in tx.events(row.id))  # fmt: skip
    assert derived == sum(po != ".." for _, po in erp.received)  # all but ".." derived
    assert outside == []
    # The first three PO numbers are sent twice on purpose, in two interchanges: two orders,
    # two files. Delivered twice is one document (one file name) reaching the ERP again.
    names = Counter(name for name, _ in erp.received)
    assert len(names) == len(view.documents)
    battery.record(
        len(cases), lost=verdict.lost, delivered_twice=sum(n - 1 for n in names.values()),
        unhandled_exceptions=drive.tracebacks + drive.failed_passes, database=database,
        what="850s whose BEG03 holds /, .., ../../x, \\, NUL, newline (ERP file names)",
        files_outside_roots=len(outside), names_derived=derived, erp_files=len(taken),
        rejected=sum(s == "rejected" for s in states.values()),
    )  # fmt: skip


def test_a_row_recorded_with_an_unsafe_name_is_still_delivered_once(
    tmp_path: Path, database_url: str, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A purchase order recorded with an unsafe ERP file name (as rows were before the fix:
    inbound processing not deriving) is delivered by ``deliver()`` under the derived name,
    once, instead of failing on every pass and never leaving ``delivering``."""
    monkeypatch.setattr(inbound, "derive_safe_name", lambda name: name)
    home, erp, _cases_sent, drive, outside = _run(tmp_path, database_url, capfd)
    view = read_store(home.database_url)
    stuck = [e for e in view.exchanges if e.state not in TERMINAL_STATES]
    assert stuck == [] and outside == []
    recorded = [d.delivery_name for d in view.documents]
    assert any("/" in name for name in recorded)  # the rows hold the unsafe names
    assert sorted(name for name, _ in erp.received) == sorted(
        derive_safe_name(name) for name in recorded
    )
    assert drive.tracebacks == drive.failed_passes == 0


@pytest.mark.parametrize("name", ["amazon-../../x.json", "amazon-A/B.json", "a\0b", "a\nb.json",
                                  "x" * 300 + ".json", "..", "", "po.json.tmp", "a\\b"])
def test_derive_safe_name_is_safe_stable_and_distinct(name: str) -> None:
    """A derived name passes ``safe_name``, is the same on every call, keeps a plain suffix,
    and differs for different originals (a digest of the original is part of it)."""
    derived = derive_safe_name(name)
    assert safe_name(derived) == derived == derive_safe_name(name)
    assert derived != derive_safe_name(name + "y")
    if name.endswith(".json"):
        assert derived.endswith(".json")
    assert derive_safe_name("amazon-PO123.json") == "amazon-PO123.json"
