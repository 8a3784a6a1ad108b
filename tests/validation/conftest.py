"""Every validation test runs on both engines: the compiled tables (the default) and the
pyx12 reference, by switching the engine of calls that name none."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

# The module, not the function gateway.validation re-exports under the same name.
validate_module = importlib.import_module("gateway.validation.validate")


@pytest.fixture(autouse=True, params=validate_module.ENGINES)
def validation_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The engine of this run of the test."""
    previous = validate_module.DEFAULT_ENGINE
    validate_module.DEFAULT_ENGINE = request.param
    try:
        yield request.param
    finally:
        validate_module.DEFAULT_ENGINE = previous
