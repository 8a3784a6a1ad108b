"""Fixtures of the battery's own tests: the databases of the pipeline tests (SQLite files
and fresh PostgreSQL databases, tests/pipeline/conftest.py), shared rather than repeated."""

from tests.pipeline.conftest import (  # noqa: F401 (fixtures, found by name)
    database_url,
    databases,
    gateway_home,
    home_factory,
    postgresql_databases,
    postgresql_url,
)
