"""The reconciler of the battery (reliability.md section 4, harness): after a restart and a
drain, count what was lost and what was delivered twice, from the store and from what the
ERP and the partner actually received (tests/pipeline/pipeline_sim.py simulators)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text

from tests.pipeline.pipeline_sim import (
    NON_TERMINAL_STATES,
    TERMINAL_STATES,
    AmazonPartner,
    Erp,
    GatewayHome,
    read_store,
)


@dataclass
class Reconciled:
    """The battery's figures for one drained gateway home."""

    inputs: int
    lost: int
    delivered_twice: int
    non_terminal: int  # exchanges left in a state a row must never stay in
    problems: list[str] = field(default_factory=list)  # what each count above is made of


def reconcile(home: GatewayHome, *, partner_files: Iterable[str] = (),
              exports: Iterable[str] = (), po_numbers: Iterable[str] = (),
              erp: Erp | None = None, amazon: AmazonPartner | None = None) -> Reconciled:
    """Figures of a drained home. Inputs are the partner's files and the ERP's exports by
    name; an input is lost when no exchange of that name is in a terminal state, and an
    expected PO is lost when the ERP never received it. Delivered twice counts every extra
    copy: a PO the ERP received more than once, an ISA13 or a business key (set id and key)
    the partner picked up more than once, an input stored under two exchanges."""
    view = read_store(home.database_url)
    partner_files, exports, po_numbers = list(partner_files), list(exports), list(po_numbers)
    problems: list[str] = []
    stored = Counter((e.channel, e.file_name) for e in view.exchanges if e.direction == "in")
    terminal = {(e.channel, e.file_name) for e in view.exchanges
                if e.direction == "in" and e.state in TERMINAL_STATES}  # fmt: skip
    lost = 0
    for channel, names in (("partner", partner_files), ("erp", exports)):
        for name in names:
            if (channel, name) not in terminal:
                lost += 1
                problems.append(f"lost: {channel} input {name} not in a terminal state")
    twice = 0
    for key, count in stored.items():
        if count > 1 and key[1] in set(partner_files) | set(exports):
            twice += count - 1
            problems.append(f"twice: input {key} stored {count} times")
    if erp is not None:
        got = Counter(po for _name, po in erp.received)
        for po in po_numbers:
            if got[po] == 0:
                lost += 1
                problems.append(f"lost: PO {po} never reached the ERP")
        for po, count in got.items():
            if count > 1:
                twice += count - 1
                problems.append(f"twice: PO {po} reached the ERP {count} times")
    if amazon is not None:
        by_isa13 = Counter((f.receiver, f.isa13) for f in amazon.received)
        by_key = Counter((s.set_id, s.key) for f in amazon.received for s in f.sets)
        for counter, what in ((by_isa13, "ISA13"), (by_key, "set and key")):
            for key, count in counter.items():
                if count > 1:
                    twice += count - 1
                    problems.append(f"twice: {what} {key} reached the partner {count} times")
    stuck = [e for e in view.exchanges if e.state in NON_TERMINAL_STATES]
    problems += [f"non-terminal: exchange {e.id} ({e.channel} {e.file_name}) {e.state}"
                 for e in stuck[:20]]  # fmt: skip
    return Reconciled(len(partner_files) + len(exports), lost, twice, len(stuck), problems)


def sqlite_integrity(database_url: str) -> str:
    """``PRAGMA integrity_check`` of a SQLite database (``ok`` when sound); ``ok`` for any
    other database, whose server keeps its own pages sound."""
    if not database_url.startswith("sqlite"):
        return "ok"
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return "; ".join(str(r[0]) for r in connection.execute(text("PRAGMA integrity_check")))
    finally:
        engine.dispose()
