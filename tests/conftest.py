"""Shared test fixtures: where the repository, its golden files and ../shared are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "sandbox_fixtures"


def require_shared() -> Path:
    """``../shared`` beside the clone; skipped when absent, except in CI where it must exist."""
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("CI") == "true":
        pytest.fail(f"{SHARED} is missing in CI")
    pytest.skip(f"{SHARED} is absent (it sits beside the clone in CI)")


@pytest.fixture
def shared_dir() -> Path:
    """The steering repository's shared/ folder (samples, map linter)."""
    return require_shared()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """In CI (CI=true) a skipped test is a failure: every service and file must be there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"
