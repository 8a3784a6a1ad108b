"""``acorn sandbox``: the simulated Amazon against a vendor's own gateway (here on the folder
transport): it sends every scenario's 850, the vendor's gateway delivers them and sends back
the ERP's 855s, and Amazon prints its verdict on each."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

from gateway.config import load_config
from gateway.sandbox.rehearsal import rehearse
from gateway.sandbox.scenarios import SCENARIOS
from tests.pipeline.pipeline_sim import Erp, make_home, process_here


def test_a_vendor_gateway_rehearses_against_the_simulated_amazon(tmp_path: Path) -> None:
    home = make_home(tmp_path / "vendor", f"sqlite:///{tmp_path / 'vendor.db'}")
    config = load_config(home.config)
    out, done, seen = io.StringIO(), threading.Event(), []
    amazon = threading.Thread(target=lambda: seen.extend(rehearse(
        config, partner="amazon", root=tmp_path / "amazon", port=0, minutes=2,
        scenarios=SCENARIOS, out=out, stop=done.is_set)))  # fmt: skip
    amazon.start()
    erp = Erp(home)
    answered: set[str] = set()
    deadline = time.monotonic() + 90
    try:
        while len([line for line in out.getvalue().splitlines() if line.startswith("855")]) < 4:
            assert time.monotonic() < deadline, out.getvalue()
            process_here(home)
            for order in erp.take_orders():
                if order.po_number not in answered:
                    answered.add(order.po_number)
                    erp.export_documents(order, ["855"])
            time.sleep(0.3)
    finally:
        done.set()
        amazon.join(30)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("simulated Amazon") and "sending 4 POs" in lines[0]
    assert len(answered) == 4
    assert [line for line in lines if line.startswith("855")] == \
        [line for line in lines if line.startswith("855: accepted")]  # fmt: skip
    assert sum(line.startswith("997: received") for line in lines) == 4  # our 997s
    assert all(s.accepted for s in seen)
