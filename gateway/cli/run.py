"""``acorn run``: the gateway as a service (the jobs and the HTTP server in one process).

Logs are structlog JSON lines on stderr (the console renderer on a terminal; ACORN_LOG_FORMAT
forces one). The first line on stdout is ``listening on http://HOST:PORT`` (``--port 0``
takes a free port). SIGTERM or SIGINT stops it gracefully (exit 0).
"""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.serve import open_and_listen
from gateway.cli.setup import add_config_argument, add_engine_argument
from gateway.log import configure, exchange_event


def add_run(commands: Any) -> None:
    """Register ``run``."""
    parser = commands.add_parser(
        "run", help="run the gateway: scheduled jobs and the HTTP server, until stopped",
        description="Poll partners, process, deliver, render, send, watch the clocks and "
        "certificates, notify alerts; serve AS2, /healthz, /readyz, /metrics and the API.",
    )  # fmt: skip
    add_config_argument(parser)
    add_engine_argument(parser)
    parser.add_argument("--host", help="address to listen on (default gateway.http_host)")
    parser.add_argument("--port", type=int, help="port (default gateway.http_port; 0: any)")
    parser.add_argument("--json", action="store_true",
                        help='print the address as JSON: {"listening": "http://..."}')
    parser.add_argument("--workers", type=int, default=4, help="job threads (default 4)")
    parser.set_defaults(run=run_daemon)


def run_daemon(args: argparse.Namespace) -> int:
    """Run until stopped; 0 after a clean stop."""
    # Imported here: the scheduler and the server are not needed by the other commands.
    from gateway.daemon import Daemon

    configure()
    pipeline, listener = open_and_listen(args)
    pipeline.store.on_event = exchange_event
    return Daemon(pipeline, listener, workers=args.workers).run()
