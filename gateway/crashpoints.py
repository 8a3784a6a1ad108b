"""Crash points: named places where a test can kill the gateway as a power cut would.

The kill -9 matrix of reliability.md (T3) needs the process to die *exactly* between two steps
(body read, committed but no MDN sent, temp file half written, uploaded but not renamed...).
Code marks such a place with ``crashpoint("name")``; a crash test starts the gateway in a
subprocess with the environment variable::

    ACORN_CRASHPOINT=name        # die at the 1st call of crashpoint("name")
    ACORN_CRASHPOINT=name:3      # die at the 3rd call of crashpoint("name") in this process

and the n-th call sends SIGKILL to its own process: nothing is flushed, no ``finally`` block,
``atexit`` hook or buffered write runs, exactly like a power cut for the process (the kernel's
page cache survives, which is what fsync-before-rename is about). The test then restarts the
gateway without the variable and checks the invariants (G1 no loss, G2 no double effect).

Without the variable, or for any other name, a call costs one string comparison: the variable
is read once per process and cached. :func:`reset` forgets the cache (for tests that
change the variable in-process). Names are dotted and say where they are, e.g.
``files.before_replace``; the modules that define points list them in their docstrings.

This module is standard library only so that every layer may call it.
"""

from __future__ import annotations

import os
import signal
import threading

ENV_VAR = "ACORN_CRASHPOINT"

_lock = threading.Lock()
_loaded = False
_target: str | None = None
_nth = 1
_calls = 0


def _parse(spec: str) -> tuple[str, int]:
    """``name`` or ``name:n`` (n >= 1) -> (name, n). A malformed value is a broken test set-up,
    so it fails loudly rather than silently never crashing."""
    name, sep, count = spec.rpartition(":")
    if not sep:
        name, count = spec, "1"
    if not name or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{ENV_VAR}={spec!r}: expected 'name' or 'name:n' with n >= 1")
    return name, int(count)


def _load() -> None:
    global _loaded, _target, _nth, _calls
    spec = os.environ.get(ENV_VAR, "").strip()
    _target, _nth = _parse(spec) if spec else (None, 1)
    _calls = 0
    _loaded = True


def reset() -> None:
    """Forget the cached setting and the call count; the next call reads ``ACORN_CRASHPOINT``
    again. For tests only."""
    global _loaded
    with _lock:
        _loaded = False


def crashpoint(name: str) -> None:
    """Die here with SIGKILL when ``ACORN_CRASHPOINT`` names this point and this is its n-th
    call in the process; otherwise do nothing.

    Raises ``ValueError`` (on the first call in the process) when the variable is malformed.
    """
    if not _loaded:
        with _lock:
            if not _loaded:
                _load()
    if name != _target:
        return
    with _lock:
        global _calls
        _calls += 1
        fire = _calls == _nth
    if fire:
        # SIGKILL cannot be caught or ignored; the kernel delivers it before this call returns
        # to user space, so no later statement of this process runs.
        os.kill(os.getpid(), signal.SIGKILL)
