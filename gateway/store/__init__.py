"""The store: every exchange in SQL (SQLite by default, PostgreSQL by URL).

The only importer of SQLAlchemy and Alembic (design.md).
"""

from gateway.store.store import (
    AlertRecord,
    As2MessageRecord,
    DocumentRecord,
    ExchangeRecord,
    GroupRecord,
    NewDocument,
    NewTransaction,
    Repository,
    Store,
    utcnow,
)

__all__ = [
    "AlertRecord",
    "As2MessageRecord",
    "DocumentRecord", "ExchangeRecord", "GroupRecord", "NewDocument", "NewTransaction",
    "Repository", "Store", "utcnow"]
