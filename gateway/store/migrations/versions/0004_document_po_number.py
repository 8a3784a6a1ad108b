"""Documents found by PO number alone

An ERP export (855, 856, 810) is matched to its purchase order by PO number before the
partner is known; the index on (partner, po_number) cannot serve that lookup, which then
scanned every document: outbound slowed as the store grew (82 855s/s with 500 documents
stored, 28/s with 20,000).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_document_po_number", "documents", ["po_number"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_document_po_number", table_name="documents")
