"""Posting to a partner's AS2 URL (RFC 4130 section 5): HTTP or HTTPS, always with
timeouts (a POST without one can hang a worker for ever; reliability.md 2), the answer
read up to a limit."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.errors import PermanentTransportError, RetryableTransportError

#: The largest answer read (an MDN is a few kilobytes).
MAX_ANSWER = 4 * 1024 * 1024


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP answer: ``status``, ``headers`` (names in lower case) and ``body``."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = field(default=b"", repr=False)


def post(
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    connect_timeout: float,
    read_timeout: float,
    context: ssl.SSLContext | None = None,
) -> HttpAnswer:
    """POST ``body`` to ``url``. Raises :class:`RetryableTransportError` when the partner
    cannot be reached or does not answer in time (the same bytes may be posted again), and
    :class:`PermanentTransportError` for a URL we cannot use. Any HTTP status is returned,
    not raised: the caller decides."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentTransportError(f"AS2 URL {url!r} is not an http(s) URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=connect_timeout,
            context=context or ssl.create_default_context(),
        )  # fmt: skip
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                                timeout=connect_timeout)  # fmt: skip
    where = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(read_timeout)
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        connection.send(body)
        response = connection.getresponse()
        answer = response.read(MAX_ANSWER + 1)
        if len(answer) > MAX_ANSWER:
            raise RetryableTransportError(f"AS2 POST to {where}: answer over {MAX_ANSWER} bytes")
        return HttpAnswer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, answer
        )
    except TimeoutError as exc:
        raise RetryableTransportError(f"AS2 POST to {where}: timed out ({exc})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise RetryableTransportError(
            f"AS2 POST to {where}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        connection.close()


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
