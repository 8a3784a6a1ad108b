"""``acorn run``: the long-running service (APScheduler 3.x jobs and the uvicorn server in one
process; design.md). The only importer of APScheduler."""

from gateway.daemon.service import Daemon

__all__ = ["Daemon"]
