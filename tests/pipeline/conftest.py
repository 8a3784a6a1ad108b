"""Fixtures of the pipeline battery: databases on SQLite and on PostgreSQL, gateway homes.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth, database ``test``; override with
``ACORN_TEST_POSTGRES``). Every database a test asks for is a new one, ``acorn_<uuid
hex>``, dropped after the test (its connections terminated first). When the server cannot
be reached the PostgreSQL cases are skipped with the reason, except in CI (``CI=true``),
where they fail: CI never skips a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pipeline.pipeline_sim import (
    GatewayHome,
    create_postgres_database,
    drop_postgres_database,
    make_home,
    postgres_admin,
)


@pytest.fixture
def postgresql_databases() -> Iterator[Callable[..., str]]:
    """Make fresh PostgreSQL databases (SQLAlchemy URLs; ``template=`` copies a database);
    all dropped after the test."""
    postgres_admin().close()  # skip (or fail in CI) before the test starts
    created: list[str] = []

    def new(template: str | None = None) -> str:
        name, url = create_postgres_database(template)
        created.append(name)
        return url

    yield new
    for name in created:
        drop_postgres_database(name)


@pytest.fixture
def postgresql_url(postgresql_databases: Callable[..., str]) -> str:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    return postgresql_databases()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Make fresh databases of one kind: SQLite files under tmp_path, or PostgreSQL."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgresql_databases")
    made = iter(range(1, 1_000))
    return lambda: f"sqlite:///{tmp_path / f'acorn-{next(made)}.db'}"


@pytest.fixture
def database_url(databases: Callable[[], str]) -> str:
    """The gateway's database, once on SQLite and once on PostgreSQL."""
    return databases()


@pytest.fixture
def gateway_home(tmp_path: Path, database_url: str) -> GatewayHome:
    """acorn.toml (settle_seconds = 0, partner ``amazon`` ZZ:AMAZON, us ZZ:ACMEVENDOR, folder
    transport) and its folders under tmp_path, on the parametrized database."""
    return make_home(tmp_path / "home", database_url)


@pytest.fixture
def home_factory(tmp_path: Path, databases: Callable[[], str]) -> Callable[..., GatewayHome]:
    """Make more gateway homes, each on a new database of the parametrized kind, with other
    settings if asked (e.g. ``lease_seconds``)."""

    def make(name: str = "home", **settings: float) -> GatewayHome:
        return make_home(tmp_path / name, databases(), **settings)

    return make
