"""An HTTP POST with timeouts, for every client of the gateway: AS2 messages and MDNs
(:mod:`gateway.transports.as2.client`) and alert webhooks (:mod:`gateway.transports.notify`).

Always with a connect and a read timeout (a POST without one can hang a worker for ever;
reliability.md 2) and the answer read up to a limit. Errors name the place as
``scheme://host:port`` plus, unless told otherwise, the path: a webhook URL may carry a
secret in its path, so its callers leave the path out.
"""

from __future__ import annotations

import http.client
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
    label: str = "POST",
    show_path: bool = True,
) -> HttpAnswer:
    """POST ``body`` to ``url``. Raises :class:`RetryableTransportError` when the server
    cannot be reached or does not answer in time (the same bytes may be posted again), and
    :class:`PermanentTransportError` for a URL we cannot use. Any HTTP status is returned,
    not raised: the caller decides. Error messages start with ``label`` and name the place
    (without the path and query when ``show_path`` is false); header values never appear
    in them."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = repr(url) if show_path else "(not shown)"
        raise PermanentTransportError(f"{label}: URL {shown} is not an http(s) URL")
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
    where = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
    if show_path:
        where += parts.path
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
            raise RetryableTransportError(f"{label} to {where}: answer over {MAX_ANSWER} bytes")
        return HttpAnswer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, answer
        )
    except TimeoutError as exc:
        raise RetryableTransportError(f"{label} to {where}: timed out ({exc})") from None
    except ValueError:
        # http.client refuses a header name or value with control characters, quoting the
        # value (which may be a secret): say which place, never what.
        raise PermanentTransportError(
            f"{label} to {where}: a header has characters HTTP does not allow"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise RetryableTransportError(
            f"{label} to {where}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        connection.close()
