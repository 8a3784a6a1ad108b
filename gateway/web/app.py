"""The gateway's ASGI application (served by uvicorn).

Routes:

* ``POST /as2``: a partner's AS2 message (:func:`gateway.pipeline.as2_inbound.receive_message`).
* ``POST /as2/mdn``: an asynchronous MDN for a message we sent
  (:func:`gateway.pipeline.as2_outbound.accept_mdn`).
* everything else: the FastAPI application of :mod:`gateway.web.api` (health, readiness,
  metrics, JSON API). The AS2 endpoints are plain ASGI so that the body is read with its
  limit, chunk by chunk, before anything else happens.

The body of a POST is read with a limit (reliability.md policy: 50 MB by default): a
Content-Length over it is refused before reading anything, and a chunked body is read at
most up to the limit plus one chunk (T5 h, T11). Cryptography and the database run in a
pool of worker threads, so a slow message never stalls the event loop. Crash point
``as2.mdn_sent`` (C4) fires after an answer left.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway.crashpoints import crashpoint
from gateway.pipeline import Pipeline
from gateway.pipeline.as2_inbound import Answer, receive_message, refuse_oversize, send_owed_mdns
from gateway.pipeline.as2_outbound import accept_mdn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_log = logging.getLogger("gateway.web")
_MDN_LIMIT = 4 * 1024 * 1024


class _TooLarge(Exception):
    pass


class GatewayApp:
    """The ASGI application of one gateway process. ``workers`` threads do the blocking
    work (decrypt, verify, commit)."""

    def __init__(self, pipeline: Pipeline, api: Any, *, workers: int = 8) -> None:
        self.pipeline = pipeline
        self.api = api
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acorn-web")
        self._mdn_task: asyncio.Future[Any] | None = None

    @property
    def body_limit(self) -> int:
        """The largest AS2 body accepted (``as2.body_limit``; 50 MB when not configured)."""
        station = self.pipeline.config.as2
        return station.body_limit if station is not None else 50 * 1024 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path not in ("/as2", "/as2/mdn"):
            await self.api(scope, receive, send)
            return
        if method != "POST":
            answer = Answer(405, (("Allow", "POST"), ("Content-Type", "text/plain")),
                            b"POST only\n")  # fmt: skip
        else:
            answer = await self._post(path, _headers(scope), receive)
        await _respond(send, answer)
        if path == "/as2" and answer.status == 200:
            crashpoint("as2.mdn_sent")
            self._post_owed_mdns()

    async def _post(self, path: str, headers: dict[str, str], receive: Receive) -> Answer:
        limit = self.body_limit if path == "/as2" else _MDN_LIMIT
        try:
            body = await _read_body(headers, receive, limit)
        except _TooLarge:
            return await self._run(refuse_oversize, self.pipeline, headers, limit)
        work = receive_message if path == "/as2" else accept_mdn
        return await self._run(work, self.pipeline, headers, body)

    async def _run(self, function: Callable[..., Answer], *args: Any) -> Answer:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, function, *args)
        except Exception:  # the peer gets a 500 with no detail; the log has the traceback
            _log.exception("as2_request_failed")
            return Answer(500, (("Content-Type", "text/plain"),), b"internal error\n")

    def _post_owed_mdns(self) -> None:
        """Post owed asynchronous MDNs soon after the answer (one run at a time)."""
        if self._mdn_task is not None and not self._mdn_task.done():
            return
        loop = asyncio.get_running_loop()
        self._mdn_task = loop.run_in_executor(self._pool, _quietly, send_owed_mdns,
                                              self.pipeline)  # fmt: skip

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._mdn_task is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(self._mdn_task), timeout=10)
                self._pool.shutdown(wait=True, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _quietly(function: Callable[[Pipeline], Any], pipeline: Pipeline) -> None:
    try:
        function(pipeline)
    except Exception:  # retried by the next run; never lost (the row stays pending)
        _log.exception("owed_mdns_failed")


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers, names in lower case, values decoded as Latin-1 (HTTP's octets);
    a repeated header keeps its first value."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


async def _read_body(headers: dict[str, str], receive: Receive, limit: int) -> bytes:
    """The request body, refused (:class:`_TooLarge`) past ``limit`` bytes: at once when
    Content-Length says so, else as soon as the chunks read pass it."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    # One growing buffer whose getvalue() hands its bytes over without a copy: a list of
    # chunks joined at the end holds the body twice and leaves the freed chunks scattered
    # over the heap (T11: a 50 MB body costs its size, not two or three times it).
    body = io.BytesIO()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body.write(message.get("body", b""))
        if body.tell() > limit:
            raise _TooLarge
        if not message.get("more_body", False):
            break
    return body.getvalue()


async def _respond(send: Send, answer: Answer) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers
               if k.lower() != "content-length"]  # fmt: skip
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
