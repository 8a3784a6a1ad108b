"""The one logging configuration (structlog): JSON lines in production, the console renderer
on a terminal, secrets and payloads never written (reliability.md G6).

* :func:`configure` sets it up once per process: ``ACORN_LOG_FORMAT=json|console`` forces a
  renderer (default: console when stderr is a terminal, JSON otherwise), ``ACORN_LOG_LEVEL``
  the level (default INFO). The standard library's loggers (uvicorn, APScheduler) go through
  the same renderer, so every line of a daemon's log is one JSON object.
* Events are snake_case facts (``interchange_received``, ``mdn_verified``) bound with
  ``exchange_id``, ``partner``, ``direction`` and ``isa13`` where known (design.md).
* Redaction, in two layers: a value under a key that names a secret or a payload
  (``password``, ``passphrase``, ``token``, ``secret``, ``authorization``, ``payload``,
  ``body``...) is replaced by ``[redacted]``; and every secret the configuration read
  (:func:`register_secret`, called by :func:`gateway.config.read_secret`) is masked wherever
  it appears in any logged text, tracebacks included.

This module imports nothing of the gateway, so that every layer may log.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "passphrase", "token", "secret", "authorization", "cookie",
                "payload", "body", "private_key")  # fmt: skip
_secrets: set[str] = set()
_lock = threading.Lock()
_configured = False


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log line from now on (values shorter than 4 characters are
    not registered: masking them would garble ordinary text)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_KEYS):
            event[key] = REDACTED
        elif isinstance(event[key], str):
            event[key] = mask(event[key])
    return event


def _mask_rendered(_logger: Any, _name: str, rendered: Any) -> Any:
    """The last processor: the rendered line (exception text included) masked again."""
    return mask(rendered) if isinstance(rendered, str) else rendered


def configure(*, stream: TextIO | None = None, json_lines: bool | None = None,
              level: str | None = None) -> None:  # fmt: skip
    """Configure structlog and the standard library's logging for this process."""
    global _configured
    stream = stream or sys.stderr
    fmt = os.environ.get("ACORN_LOG_FORMAT", "").lower()
    if json_lines is None:
        json_lines = fmt == "json" or (fmt != "console" and not stream.isatty())
    level_name = (level or os.environ.get("ACORN_LOG_LEVEL") or "INFO").upper()
    renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                     else structlog.dev.ConsoleRenderer(colors=stream.isatty()))  # fmt: skip
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer, _mask_rendered],
    )  # fmt: skip
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for quiet in ("apscheduler", "alembic"):  # their INFO lines are noise in a service log
        logging.getLogger(quiet).setLevel(max(logging.WARNING, root.level))
    _configured = True


def get_logger(name: str = "gateway") -> Any:
    """A structlog logger (bind keys with ``.bind(partner=...)``)."""
    return structlog.get_logger(name)


def exchange_event(exchange_id: int, partner: str | None, direction: str | None, kind: str,
                   detail: dict[str, Any]) -> None:  # fmt: skip
    """Log one fact of an exchange's timeline, as committed to the store: the event ``kind``
    with ``exchange_id``, ``partner``, ``direction`` and the detail (ISA13 and the like;
    never a payload)."""
    reserved = {"event", "exchange_id", "partner", "direction"}
    fields = {(f"detail_{k}" if k in reserved else k): v for k, v in detail.items()}
    get_logger("gateway.pipeline").info(kind, exchange_id=exchange_id, partner=partner,
                                        direction=direction, **fields)  # fmt: skip
