"""The service: the scheduler's jobs and the HTTP server in one process, and a graceful stop.

:meth:`Daemon.run` starts an APScheduler 3.x ``BackgroundScheduler`` (a pool of worker
threads; each job at most one instance at a time, missed runs coalesced) with the jobs of
:mod:`gateway.daemon.jobs`, each run once at start, then serves the ASGI application with
uvicorn in the main thread until SIGTERM or SIGINT. Stopping: uvicorn stops accepting and
finishes the requests under way; :attr:`Pipeline.stopping` is set, so every job ends after
the row it is working on; the scheduler is given ``schedule.stop_deadline_seconds`` to let
its jobs finish; then every lease this process still holds is released, so another process
(or the next start) takes the work over at once instead of after the lease period.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import uvicorn
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from gateway.daemon.jobs import Job, jobs
from gateway.log import get_logger
from gateway.pipeline import Pipeline
from gateway.web import create_app

_log = get_logger("gateway.daemon")


class Daemon:
    """One gateway process: ``pipeline`` (configuration, store, identity) served on
    ``listener`` (a bound socket)."""

    def __init__(self, pipeline: Pipeline, listener: socket.socket, *, workers: int = 4) -> None:
        self.pipeline = pipeline
        self.listener = listener
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone=UTC,
        )  # fmt: skip
        self.app = create_app(pipeline)
        self.server: uvicorn.Server | None = None

    def _guarded(self, job: Job) -> Callable[[], None]:
        """A job that logs its failure instead of raising: the scheduler keeps running it
        and nothing a job leaves half done is lost (every step is a committed state)."""

        def run() -> None:
            if self.pipeline.stopping.is_set():
                return
            started = time.monotonic()
            try:
                result = job.run(self.pipeline)
            except Exception:
                _log.exception("job_failed", job=job.id)
                return
            elapsed = time.monotonic() - started
            if result:
                _log.info("job_done", job=job.id, result=result, seconds=round(elapsed, 3))

        return run

    def start_jobs(self) -> None:
        """Schedule every job, each first run now."""
        now = datetime.now(UTC)
        for job in jobs(self.pipeline):
            self.scheduler.add_job(self._guarded(job), "interval", seconds=job.seconds,
                                   id=job.id, name=job.id, next_run_time=now)  # fmt: skip
        self.scheduler.start()

    def stop_jobs(self) -> int:
        """Stop the jobs within the deadline, then release this process's leases; returns
        how many leases were released."""
        self.pipeline.stopping.set()
        deadline = self.pipeline.config.schedule.stop_deadline_seconds
        stopper = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True},
                                   daemon=True)  # fmt: skip
        stopper.start()
        stopper.join(deadline)
        if stopper.is_alive():
            _log.warning("jobs_still_running_at_stop", deadline_seconds=deadline)
        with self.pipeline.store.transaction() as tx:
            released = tx.release_leases(self.pipeline.owner)
        _log.info("stopped", leases_released=released, owner=self.pipeline.owner)
        return released

    def run(self, on_ready: Callable[[], Any] | None = None) -> int:
        """Run until SIGTERM/SIGINT; 0 after a clean stop."""
        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=5,
                                log_config=None)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.start_jobs()
        _log.info("started", owner=self.pipeline.owner,
                  jobs=[j.id for j in self.scheduler.get_jobs()])  # fmt: skip
        if on_ready is not None:
            on_ready()
        # uvicorn catches SIGTERM/SIGINT while it serves and raises them again once it has
        # stopped; with these handlers in place that second delivery lands here (a no-op)
        # instead of killing the process before the jobs are stopped and leases released.
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, lambda number, frame: None)
        try:
            self.server.run(sockets=[self.listener])
        finally:
            self.stop_jobs()
            self.pipeline.store.dispose()
        return 0
