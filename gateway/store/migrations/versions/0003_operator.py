"""Reprocessing: interchanges superseded by a reprocess leave the ISA13 uniqueness

The UNIQUE constraint on interchanges (direction, sender, receiver, ISA13) becomes a
UNIQUE index over the rows whose ``superseded_by`` is NULL, so that an inbound exchange an
operator processes again (``acorn tx reprocess``) records the interchange afresh while
the rows of the earlier attempt stay as evidence.

SQLite cannot drop a constraint: the table is rebuilt. Its rows are kept in a temporary
table, the table is dropped and created anew, and the rows are inserted back under the
same ids. Foreign-key checks are deferred to the commit for this (``defer_foreign_keys``,
reset by SQLite at the end of the transaction): the groups that point at the interchanges
are orphaned between the drop and the insert, and SQLite verifies at the commit that every
one has found its row again, so nothing is left dangling (SQLite's own procedure for
schema changes disables the checks instead, which a migration inside a transaction cannot).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_KEY = ["direction", "sender", "receiver", "control_number"]
_COLUMNS = "id, exchange_id, direction, sender, receiver, control_number, version, usage, status"
_LIVE = sa.text("superseded_by IS NULL")


def _interchanges(*, superseded: bool) -> None:
    """CREATE TABLE interchanges: with ``superseded_by`` (no UNIQUE constraint; the index
    follows) or as revision 0002 had it."""
    columns: list[sa.SchemaItem] = [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=False),
        sa.Column("receiver", sa.String(length=20), nullable=False),
        sa.Column("control_number", sa.String(length=9), nullable=False),
        sa.Column("version", sa.String(length=5), nullable=False),
        sa.Column("usage", sa.String(length=1), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(["exchange_id"], ["exchanges.id"]),
        sa.PrimaryKeyConstraint("id"),
    ]
    if superseded:
        columns += [
            sa.Column("superseded_by", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["superseded_by"], ["exchanges.id"]),
        ]
    else:
        columns.append(sa.UniqueConstraint(*_KEY, name="uq_interchange_control_number"))
    op.create_table("interchanges", *columns)
    op.create_index("ix_interchanges_exchange_id", "interchanges", ["exchange_id"])


def _rebuild_sqlite(*, superseded: bool) -> None:
    """Recreate the SQLite table with the same rows and ids (see the module docstring)."""
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TEMPORARY TABLE interchanges_0003 AS SELECT {_COLUMNS} FROM interchanges")
    op.drop_table("interchanges")
    _interchanges(superseded=superseded)
    op.execute(f"INSERT INTO interchanges ({_COLUMNS}) SELECT {_COLUMNS} FROM interchanges_0003")
    op.execute("DROP TABLE interchanges_0003")


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(superseded=True)
    else:
        op.add_column("interchanges", sa.Column("superseded_by", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "interchanges_superseded_by_fkey", "interchanges", "exchanges",
            ["superseded_by"], ["id"],
        )  # fmt: skip
        op.drop_constraint("uq_interchange_control_number", "interchanges", type_="unique")
    op.create_index(
        "uq_interchange_control_number", "interchanges", _KEY, unique=True,
        sqlite_where=_LIVE, postgresql_where=_LIVE,
    )  # fmt: skip


def downgrade() -> None:
    """Revert this revision (refused by the UNIQUE constraint while the table holds an
    interchange together with its superseded copies: delete those rows first)."""
    op.drop_index("uq_interchange_control_number", table_name="interchanges")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(superseded=False)
    else:
        op.drop_constraint("interchanges_superseded_by_fkey", "interchanges", type_="foreignkey")
        op.drop_column("interchanges", "superseded_by")
        op.create_unique_constraint("uq_interchange_control_number", "interchanges", _KEY)
