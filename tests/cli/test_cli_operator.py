"""``acorn operator hash``: the password from standard input (never an argument), its scrypt
hash printed, and the hash accepted by the dashboard's login."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.web.auth import verify_password

REPO = Path(__file__).resolve().parents[2]


def acorn(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=stdin,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)  # fmt: skip


def test_the_hash_of_a_password_read_from_stdin_verifies() -> None:
    done = acorn("operator", "hash", "--json", stdin="correct horse battery staple\n")
    assert done.returncode == 0, done.stderr
    digest = json.loads(done.stdout)["password_hash"]
    assert digest.startswith("scrypt$")
    assert verify_password("correct horse battery staple", digest)
    assert "correct horse" not in done.stdout + done.stderr


def test_an_empty_password_is_refused() -> None:
    done = acorn("operator", "hash", stdin="\n")
    assert done.returncode == 2 and "empty password" in done.stderr
