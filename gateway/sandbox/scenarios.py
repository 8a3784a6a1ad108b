"""Scenarios: what the simulated Amazon orders and how the demo ERP answers, as data files
(``sandbox_fixtures/sandbox/scenarios/*.json``) so that a vendor can add their own.

A scenario file::

    {
      "name": "new order",
      "description": "...",
      "demo": true,                       # part of `make demo`
      "ship_window_days": [3, 17],        # the ship window, in days from today
      "purchase_order": { ... },          # an ERP purchase order (schemas/purchase_order)
                                          #   without po_date and ship_window: set to today
      "vendor": {"1": "accept", "2": "backorder", "3": "reject"}   # the ERP's answer per line
    }

``po_number`` may end in ``{run}``, replaced by a number unique to each run, so that a
sandbox can be run again on the same database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

from gateway.erp import PurchaseOrder, parse_document
from gateway.errors import ConfigError, ErpDocumentError
from gateway.sandbox.erp import Decision

SCENARIOS = Path(__file__).resolve().parents[2] / "sandbox_fixtures" / "sandbox" / "scenarios"


@dataclass(frozen=True)
class Scenario:
    """One scenario: its purchase order (dated) and the ERP's decision per line."""

    name: str
    description: str
    demo: bool
    purchase_order: PurchaseOrder
    decisions: dict[str, Decision]
    path: Path


def load_scenario(path: Path, *, today: date, run: str = "") -> Scenario:
    """Read one scenario file; :class:`ConfigError` naming the file and the JSON path of
    what is wrong."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the scenario: {exc}") from None
    order = dict(data.get("purchase_order") or {})
    first, last = data.get("ship_window_days", [3, 17])
    order.update(po_date=today.isoformat(),
                 ship_window={"not_before": (today + timedelta(days=first)).isoformat(),
                              "not_after": (today + timedelta(days=last)).isoformat()})  # fmt: skip
    order["po_number"] = str(order.get("po_number", "")).replace("{run}", run)
    try:
        purchase_order = parse_document(json.dumps(order).encode("utf-8"))
    except ErpDocumentError as exc:
        problems = "; ".join(f"$.purchase_order{p.path.removeprefix('$')}: {p.message}"
                             for p in exc.problems)  # fmt: skip
        raise ConfigError(f"{path}: {problems}") from None
    if not isinstance(purchase_order, PurchaseOrder):
        raise ConfigError(f"{path}: $.purchase_order.type must be purchase_order")
    decisions = dict(data.get("vendor") or {})
    lines = {line.line_id for line in purchase_order.lines}
    for line_id, decision in decisions.items():
        if line_id not in lines or decision not in get_args(Decision):
            raise ConfigError(f"{path}: $.vendor.{line_id}: {decision!r} is not one of "
                              f"{', '.join(get_args(Decision))} for a line of the order")
    return Scenario(str(data.get("name") or path.stem), str(data.get("description") or ""),
                    bool(data.get("demo", False)), purchase_order, decisions, path)  # fmt: skip


def load_scenarios(directory: Path = SCENARIOS, *, today: date, run: str = "",
                   demo_only: bool = False) -> list[Scenario]:  # fmt: skip
    """Every scenario of ``directory`` in file-name order (only the demo's when asked)."""
    found = [load_scenario(path, today=today, run=run)
             for path in sorted(directory.glob("*.json"))]  # fmt: skip
    return [s for s in found if s.demo or not demo_only]
