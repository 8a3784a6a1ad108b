"""``acorn serve``: the HTTP side of the gateway alone (AS2 endpoints and ``/healthz``).

It receives AS2 messages (stored, answered with MDNs) and asynchronous MDNs; the
processing of what arrives is ``acorn process`` (or the daemon's schedule). Listens on
``gateway.http_host``/``http_port`` unless ``--host``/``--port`` say otherwise; ``--port 0``
takes a free port. The first line printed is ``listening on http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
from typing import Any

from gateway.cli.setup import add_config_argument, add_engine_argument, open_pipeline
from gateway.errors import ConfigError
from gateway.pipeline import Pipeline
from gateway.web import create_app


def add_serve(commands: Any) -> None:
    """Register ``serve``."""
    parser = commands.add_parser(
        "serve", help="serve the AS2 endpoints over HTTP",
        description="Serve POST /as2, POST /as2/mdn and GET /healthz until stopped.",
    )  # fmt: skip
    add_config_argument(parser)
    add_engine_argument(parser)
    parser.add_argument("--host", help="address to listen on (default gateway.http_host)")
    parser.add_argument("--port", type=int, help="port (default gateway.http_port; 0: any)")
    parser.add_argument("--json", action="store_true",
                        help='print the address as JSON: {"listening": "http://..."}')
    parser.add_argument("--workers", type=int, default=8, help="worker threads (default 8)")
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 after a clean stop."""
    import uvicorn

    pipeline, listener = open_and_listen(args)
    config = uvicorn.Config(create_app(pipeline, workers=args.workers), log_level="warning",
                            lifespan="on", access_log=False, timeout_graceful_shutdown=10)
    for stop in (signal.SIGTERM, signal.SIGINT):  # see gateway.daemon.service: a clean exit 0
        signal.signal(stop, lambda number, frame: None)
    uvicorn.Server(config).run(sockets=[listener])
    sys.stdout.flush()
    return 0


def open_and_listen(args: argparse.Namespace) -> tuple[Pipeline, socket.socket]:
    """The pipeline of ``--config`` (our AS2 keys loaded now: a key that cannot be loaded
    stops us at start, not at the first POST) and a socket listening on ``--host``/``--port``
    (or the configured ones); prints ``listening on http://HOST:PORT`` (``--json``: as JSON)."""
    pipeline = open_pipeline(args)
    if pipeline.config.as2 is not None:
        pipeline.as2_station()
    gateway = pipeline.config.gateway
    listener, address = bind(args.host or gateway.http_host,
                             gateway.http_port if args.port is None else args.port)  # fmt: skip
    print(json.dumps({"listening": address}) if args.json else f"listening on {address}",
          flush=True)
    return pipeline, listener


def bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket on ``host``:``port`` (0: a free port) and its ``http://`` address;
    :class:`ConfigError` naming the settings when it cannot be had."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(2048)  # connections wait in the backlog while uvicorn starts
    except OSError as exc:
        listener.close()
        raise ConfigError(f"gateway.http_host/http_port: cannot listen on {host}:{port}: "
                          f"{exc.strerror}") from None  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    return listener, f"http://{shown}:{listener.getsockname()[1]}"
