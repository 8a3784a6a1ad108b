"""The log: JSON lines with the exchange's keys; secrets and payloads never written (G6)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from gateway import log
from gateway.config import read_secret


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure() replaces the root handlers: give them back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def configured() -> io.StringIO:
    stream = io.StringIO()
    log.configure(stream=stream, json_lines=True, level="DEBUG")
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_exchange_events_are_json_lines_with_the_bound_keys() -> None:
    stream = configured()
    log.exchange_event(7, "amazon", "in", "file_received", {"name": "po.edi", "isa13": "42"})
    [line] = lines(stream)
    assert line["event"] == "file_received" and line["level"] == "info"
    assert (line["exchange_id"], line["partner"], line["direction"], line["isa13"]) == (
        7, "amazon", "in", "42")
    assert "timestamp" in line


def test_a_secret_read_from_the_configuration_is_masked_everywhere(tmp_path: Path) -> None:
    """Read through read_secret (as every passphrase, password and token is), the value
    never appears: not in a message, not in a field, not in a traceback."""
    canary = "canary-3f9a1c7e-passphrase"
    assert read_secret("test", "ACORN_TEST_SECRET", None, {"ACORN_TEST_SECRET": canary}) == canary
    stream = configured()
    logger = log.get_logger("test")
    logger.info("connecting", detail=f"with {canary} inside")
    try:
        raise RuntimeError(f"failed with {canary}")
    except RuntimeError:
        logger.exception("it_failed")
    logging.getLogger("uvicorn.error").warning("stdlib says %s", canary)
    text = stream.getvalue()
    assert canary not in text
    assert text.count(log.REDACTED) >= 3
    assert len(lines(stream)) == 3


def test_fields_named_like_secrets_or_payloads_are_redacted() -> None:
    stream = configured()
    log.get_logger("test").info("posted", password="p4ss-word", token="abc-token",
                                payload=b"ISA*00", authorization="Bearer x", partner="amazon")
    [line] = lines(stream)
    for key in ("password", "token", "payload", "authorization"):
        assert line[key] == log.REDACTED
    assert line["partner"] == "amazon"


def test_the_console_renderer_is_used_on_request() -> None:
    stream = io.StringIO()
    log.configure(stream=stream, json_lines=False)
    log.get_logger("test").info("hello_there", partner="amazon")
    text = stream.getvalue()
    assert "hello_there" in text and "partner" in text
    assert not text.lstrip().startswith("{")
