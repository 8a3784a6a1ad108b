"""The demo's cycle, as ``make demo`` runs it, asserting every document and acknowledgment:
3 POs over AS2 with MDNs, PO JSON in the ERP inbox, 997s to Amazon, an 855 (one line
accepted, one backordered, one rejected), an 856 with SSCC-labelled cartons and an 810 per
PO, each sent over AS2, checked by the simulated Amazon and accepted by its 997."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.erp import Invoice, PoAcknowledgment, ShipNotice, parse_document
from gateway.errors import ConfigError
from gateway.rules import sscc_valid
from gateway.sandbox.demo import run_demo
from gateway.store import Store


def test_the_demo_runs_every_po_through_its_whole_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``acorn demo`` (what ``make demo`` runs): exit 0, the log and the chains printed."""
    assert main(["demo", "--dir", str(tmp_path / "demo"), "--timeout", "90"]) == 0
    text = capsys.readouterr().out
    # The same cycle again with the result object, asserting every document.
    out = io.StringIO()
    result = run_demo(tmp_path / "demo", out=out, timeout=90)
    assert result.ok, out.getvalue()
    assert result.rejected == []
    assert len(result.po_numbers) == 3
    # What Amazon received: our 997 for each 850, then the 855, 856 and 810 of each PO.
    assert sorted(result.amazon_sets) == sorted(["997"] * 3 + ["855", "856", "810"] * 3)
    for po in result.po_numbers:
        chain = {link["set"]: link for link in result.chains[po]}
        assert set(chain) == {"850", "855", "856", "810"}
        order = chain["850"]
        assert order["state"] == "delivered"
        [our_997] = order["our_997"]
        assert (our_997["state"], our_997["ak9"]) == ("sent", "A")
        for kind in ("855", "856", "810"):
            [sent] = chain[kind]["sent"]
            assert sent["state"] == "sent"
            assert sent["as2"]["disposition"].endswith("; processed")
            assert sent["acknowledgment"]["status"] == "accepted"
    # The documents the ERP exported, as the gateway rendered them.
    exports = sorted((tmp_path / "demo" / "erp" / "outbox" / "archive").glob("*.json"))
    documents = [parse_document(p.read_bytes()) for p in exports]
    assert len(documents) == 9
    for document in documents:
        if isinstance(document, PoAcknowledgment):
            statuses = [line.statuses[0].status for line in document.lines]
            assert statuses == ["accepted", "backordered", "rejected"]
        elif isinstance(document, ShipNotice):
            cartons = [c for o in document.orders for c in o.cartons]
            assert len(cartons) == 1 and all(sscc_valid(c.sscc) for c in cartons)
        else:
            assert isinstance(document, Invoice)
            assert [line.line_id for line in document.lines] == ["1"]
            assert document.total == sum((line.quantity * line.unit_price
                                          for line in document.lines), Decimal(0))
    # The demo directory stays, with its configuration and database.
    assert (tmp_path / "demo" / "acorn.toml").exists()
    store = Store(f"sqlite:///{tmp_path / 'demo' / 'acorn.db'}")
    with store.transaction() as tx:
        states = {e.state for e in tx.exchanges()}
    store.dispose()
    assert states <= {"delivered", "processed", "rendered", "sent"}
    assert "every document accepted, every chain complete" in text
    assert "== transaction log (acorn tx list) ==" in text
    assert all(f"== PO {po}" in text for po in result.po_numbers)


def test_a_previous_demo_is_replaced_but_another_directory_is_never_touched(
    tmp_path: Path,
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a demo directory"):
        run_demo(precious, out=io.StringIO())
    assert (precious / "keep.txt").read_text() == "mine"
    assert json.dumps(sorted(p.name for p in precious.iterdir())) == '["keep.txt"]'
