"""The Alembic migrations create exactly the tables the models describe (a model changed
without a migration fails here)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.store import Store
from gateway.store.tables import Base


def test_the_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'acorn.db'}")
    store.upgrade()
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    store.dispose()
    assert differences == []


def test_a_document_is_found_by_po_number_alone_through_an_index(tmp_path: Path) -> None:
    """An ERP export finds its purchase order by PO number before it knows the partner
    (gateway.pipeline.outbound): SQLite must search an index, never scan every document
    (outbound slowed with the size of the store before migration 0004)."""
    import sqlite3

    path = tmp_path / "acorn.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    with sqlite3.connect(path) as connection:
        plan = " ".join(str(row[-1]) for row in connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM documents"
            " WHERE type = 'purchase_order' AND po_number = 'PO1' ORDER BY id"
        ))  # fmt: skip
    assert "USING INDEX ix_document_po_number" in plan, plan
    assert "SCAN documents" not in plan, plan
