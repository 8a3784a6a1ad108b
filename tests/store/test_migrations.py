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
