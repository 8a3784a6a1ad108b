"""The reliability battery's figures (reliability.md section 4, issue 11).

A test of the battery is marked ``@pytest.mark.battery("T3")`` (the number of its row in
reliability.md) and records, through the ``battery`` fixture, what it tried and what it
measured: the inputs, how many were lost (never reached a terminal state, or vanished),
how many were delivered twice (to the ERP or to the partner), how many unhandled exceptions
escaped (tracebacks, crashes), and where the test recovers from a fault, how long recovery
took. :meth:`Battery.record` fails the test when a count that must be zero is not; the
hooks in ``tests/conftest.py`` then write one JSON line per test (outcome, duration,
database, figures) to ``$ACORN_BATTERY_REPORT`` when it is set, which
``python -m tests.reliability.report`` turns into reliability-report.md. A battery test that
passes without recording figures fails: every row of the report carries measured figures.

Scale: ``ACORN_BATTERY_SCALE=full`` (``make reliability``) runs reliability.md's counts; the
default, ``ci``, runs the same tests with smaller counts, inside ``make test``.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: The rows of reliability.md's battery, with a short title for the report.
TESTS: dict[str, str] = {
    "T1": "Concurrent AS2",
    "T2": "Duplicate race",
    "T3": "kill -9 matrix and chaos run",
    "T4": "X12 fuzz",
    "T5": "Bad AS2 inputs",
    "T6": "Path traversal",
    "T7": "ERP JSON injection",
    "T8": "Secrets out of logs",
    "T9": "SFTP robustness",
    "T10": "Certificates and clock",
    "T11": "Large bodies",
    "T12": "Encoding",
    "T13": "Several instances",
    "T14": "Async MDN",
}

SCALES = ("ci", "full")


def scale() -> str:
    """The battery's scale: ``full`` (reliability.md's counts) or ``ci`` (the default)."""
    value = os.environ.get("ACORN_BATTERY_SCALE", "ci")
    if value not in SCALES:
        raise ValueError(f"ACORN_BATTERY_SCALE={value!r}: expected one of {SCALES}")
    return value


def scaled(ci: int, full: int) -> int:
    """``full`` at the full scale, ``ci`` otherwise."""
    return full if scale() == "full" else ci


_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):", re.MULTILINE)


def count_tracebacks(*texts: str) -> int:
    """How many Python tracebacks the texts (a process's stderr, a log) hold: each one is an
    exception that escaped to a user (reliability.md G3)."""
    return sum(len(_TRACEBACK.findall(t or "")) for t in texts)


@dataclass
class Figures:
    """What one test of the battery tried and measured."""

    inputs: int
    lost: int = 0
    delivered_twice: int = 0
    unhandled_exceptions: int = 0
    time_to_recover: float | None = None  # seconds, where the test recovers from a fault
    what: str = ""  # the inputs, in a few words
    measures: dict[str, Any] = field(default_factory=dict)  # other figures worth reporting

    def must_be_zero(self) -> dict[str, int]:
        """The counts that every test of the battery must bring to zero."""
        return {"lost": self.lost, "delivered twice": self.delivered_twice,
                "unhandled exceptions": self.unhandled_exceptions}  # fmt: skip


class Battery:
    """The recorder handed to one test of the battery (the ``battery`` fixture)."""

    def __init__(self, test_id: str, database: str | None) -> None:
        if test_id not in TESTS:
            raise ValueError(f"battery({test_id!r}): not a row of reliability.md ({list(TESTS)})")
        self.test_id = test_id
        self.database = database
        self.figures: list[Figures] = []

    @property
    def scale(self) -> str:
        return scale()

    def record(self, inputs: int, *, lost: int = 0, delivered_twice: int = 0,
               unhandled_exceptions: int = 0, time_to_recover: float | None = None,
               what: str = "", database: str | None = None, **measures: Any) -> Figures:
        """Record the figures of this test (several calls add up: one per case or database);
        then fail the test (AssertionError) if lost, delivered twice or unhandled exceptions
        is not zero. ``database`` names the database when the test chose it itself."""
        if inputs < 0 or min(lost, delivered_twice, unhandled_exceptions) < 0:
            raise ValueError("battery figures are counts: never negative")
        if database is not None:
            self.database = database
        figures = Figures(inputs, lost, delivered_twice, unhandled_exceptions,
                          time_to_recover, what, measures)  # fmt: skip
        self.figures.append(figures)
        failing = {k: v for k, v in figures.must_be_zero().items() if v}
        assert not failing, f"{self.test_id}: {failing} (must all be 0) over {inputs} inputs"
        return figures

    def line(self, nodeid: str, outcome: str, seconds: float) -> dict[str, Any]:
        """The JSON line of this test for the report."""
        return {"test": self.test_id, "title": TESTS[self.test_id], "case": nodeid,
                "database": self.database or "none", "scale": scale(), "outcome": outcome,
                "seconds": round(seconds, 3),
                "figures": [asdict(f) for f in self.figures]}  # fmt: skip


def database_of(params: dict[str, Any]) -> str | None:
    """The database a parametrized test runs on, from its parameters (the ``databases``
    fixture of tests/pipeline/conftest.py, or a parameter named ``database``/``db``)."""
    for name in ("databases", "database", "db", "backend"):
        value = params.get(name)
        if value in ("sqlite", "postgresql"):
            return str(value)
    return None
