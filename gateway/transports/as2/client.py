"""Posting to a partner's AS2 URL (RFC 4130 section 5): HTTP or HTTPS, always with
timeouts (a POST without one can hang a worker for ever; reliability.md 2), the answer
read up to a limit."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

from gateway.transports.http import MAX_ANSWER, HttpAnswer
from gateway.transports.http import post as _post

__all__ = ["MAX_ANSWER", "HttpAnswer", "post", "probe"]


def post(
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    connect_timeout: float,
    read_timeout: float,
    context: ssl.SSLContext | None = None,
) -> HttpAnswer:
    """POST ``body`` to ``url`` (:func:`gateway.transports.http.post`, errors labelled
    ``AS2 POST``). Raises :class:`RetryableTransportError` when the partner cannot be
    reached or does not answer in time (the same bytes may be posted again), and
    :class:`PermanentTransportError` for a URL we cannot use. Any HTTP status is returned,
    not raised: the caller decides."""
    return _post(url, headers, body, connect_timeout=connect_timeout,
                 read_timeout=read_timeout, context=context, label="AS2 POST")  # fmt: skip


def probe(url: str, timeout: float) -> str | None:
    """Whether a TCP connection to the host and port of ``url`` opens within ``timeout``
    seconds: None when it does, else the reason (``acorn doctor``)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"{url!r} has no host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{parts.hostname}:{port}: {exc.strerror or exc}"
