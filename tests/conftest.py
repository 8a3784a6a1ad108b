"""Shared test fixtures: where the repository, its golden files and ../shared are; the
reliability battery's marker, recorder and report lines (tests/reliability/battery.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.reliability.battery import Battery, database_of, scale

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "sandbox_fixtures"

_BATTERY = pytest.StashKey[Battery]()
_BATTERY_SECONDS = pytest.StashKey[list[float]]()


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "battery(test_id): a test of reliability.md's battery (T1..T14); it records its "
        "figures through the battery fixture (make reliability runs them at full scale)",
    )
    config.stash[_BATTERY_SECONDS] = []


@pytest.fixture
def battery(request: pytest.FixtureRequest) -> Battery:
    """The figures recorder of a test marked ``battery("Tn")`` (tests/reliability/battery.py)."""
    marker = request.node.get_closest_marker("battery")
    if marker is None or not marker.args:
        pytest.fail("the battery fixture is for tests marked @pytest.mark.battery('Tn')")
    callspec = getattr(request.node, "callspec", None)
    recorder = Battery(marker.args[0], database_of(callspec.params if callspec else {}))
    request.node.stash[_BATTERY] = recorder
    return recorder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """In CI (CI=true) a skipped test is a failure: every service and file must be there.
    A battery test that passes without recording figures fails; each battery test's
    outcome and figures go to ``$ACORN_BATTERY_REPORT`` (one JSON line) when it is set."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"
    marker = item.get_closest_marker("battery")
    if marker is None or not (report.when == "call" or report.outcome != "passed"):
        return
    recorder = item.stash.get(_BATTERY, None)
    if report.when == "call" and report.passed and (recorder is None or not recorder.figures):
        report.outcome = "failed"
        report.longrepr = "a test of the reliability battery must record its figures (battery)"
    item.config.stash[_BATTERY_SECONDS].append(report.duration)
    path = os.environ.get("ACORN_BATTERY_REPORT")
    if path:
        if recorder is None:
            callspec = getattr(item, "callspec", None)
            recorder = Battery(marker.args[0], database_of(callspec.params if callspec else {}))
        line = recorder.line(item.nodeid, report.outcome, report.duration)
        if report.outcome == "failed":
            crash = getattr(report.longrepr, "reprcrash", None)
            line["failure"] = (crash.message if crash else str(report.longrepr))[-2000:]
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One line on the battery tests of this run: how many, in how long, at which scale."""
    seconds = config.stash.get(_BATTERY_SECONDS, [])
    if seconds:
        terminalreporter.write_line(
            f"reliability battery ({scale()} scale): {len(seconds)} test phases, "
            f"{sum(seconds):.0f} s"
        )
