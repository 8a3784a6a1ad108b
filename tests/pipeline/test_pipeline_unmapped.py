"""An 850 the maps accept but the mapping cannot carry is never lost silently: the
exchange is quarantined with a reason, and nothing reaches the ERP for it."""

from __future__ import annotations

from pathlib import Path

from bench.corpus import generate
from gateway.pipeline import run_once
from tests.pipeline.test_pipeline_clocks import _pipeline


def test_unmappable_850_is_quarantined(tmp_path: Path) -> None:
    """CTT01 disagreeing with the PO1 lines passes the maps (they do not count lines) but
    the 850 mapping refuses it: quarantined, a mapping_failed event, no PO file."""
    pipeline, _clock = _pipeline(tmp_path)
    text = generate(31, sets=1, max_lines=3).decode()
    start = text.index("CTT*") + 4
    text = text[:start] + "9" + text[text.index("*", start):]
    (tmp_path / "partner/to-us/odd.edi").write_text(text)
    run_once(pipeline)
    with pipeline.store.transaction() as tx:
        (exchange,) = [e for e in tx.exchanges() if e.direction == "in"]
        kinds = [kind for _at, kind, _detail in tx.events(exchange.id)]
    assert exchange.state == "quarantined"
    assert "not mappable" in (exchange.reason or "")
    assert "mapping_failed" in kinds
    assert list((tmp_path / "erp/inbox").glob("*.json")) == []
