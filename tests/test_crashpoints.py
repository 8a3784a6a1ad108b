"""gateway.crashpoints: ACORN_CRASHPOINT=name[:n] kills the process at the n-th call, and only
then (reliability.md T3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from gateway import crashpoints
from gateway.crashpoints import crashpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Prints a marker before and after each of five calls of crashpoint("alpha"), with calls of
# crashpoint("beta") interleaved that must not count.
CHILD = textwrap.dedent(
    """
    from gateway.crashpoints import crashpoint
    for i in range(1, 6):
        crashpoint("beta")
        print(f"before {i}", flush=True)
        crashpoint("alpha")
        print(f"after {i}", flush=True)
    print("done", flush=True)
    """
)


def run_child(setting: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != crashpoints.ENV_VAR}
    if setting is not None:
        env[crashpoints.ENV_VAR] = setting
    env["PYTHONPATH"] = REPO
    return subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.fixture(autouse=True)
def fresh_cache():
    crashpoints.reset()
    yield
    crashpoints.reset()


@pytest.mark.parametrize("nth", [1, 3, 5])
def test_dies_by_sigkill_exactly_at_the_nth_call(nth: int) -> None:
    result = run_child(f"alpha:{nth}")
    assert result.returncode == -signal.SIGKILL
    lines = result.stdout.splitlines()
    assert lines[-1] == f"before {nth}"
    assert lines.count("done") == 0
    assert [line for line in lines if line.startswith("after")] == [
        f"after {i}" for i in range(1, nth)
    ]


def test_bare_name_means_the_first_call() -> None:
    result = run_child("alpha")
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.splitlines() == ["before 1"]


@pytest.mark.parametrize("setting", [None, "", "gamma", "gamma:1", "alph", "alpha:6"])
def test_other_names_or_unreached_counts_never_kill(setting: str | None) -> None:
    result = run_child(setting)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "done"


def test_no_setting_in_process_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crashpoints.ENV_VAR, raising=False)
    for _ in range(3):
        crashpoint("anything")


def test_setting_is_read_once_per_process_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crashpoints.ENV_VAR, "other")
    crashpoint("alpha")
    # A malformed value set later is not even seen: the setting was cached at the first call
    # (a broken cache fails here with ValueError, never by killing the test process) ...
    monkeypatch.setenv(crashpoints.ENV_VAR, "alpha:zero")
    crashpoint("alpha")
    # ... until reset(), after which it is read again and refused.
    crashpoints.reset()
    with pytest.raises(ValueError, match="ACORN_CRASHPOINT"):
        crashpoint("alpha")


@pytest.mark.parametrize("setting", ["alpha:0", "alpha:-1", "alpha:x", ":2", "alpha:"])
def test_malformed_setting_fails_loudly(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv(crashpoints.ENV_VAR, setting)
    with pytest.raises(ValueError, match="name:n"):
        crashpoint("beta")
