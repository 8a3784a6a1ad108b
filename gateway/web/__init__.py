"""The ASGI application served by uvicorn: the AS2 endpoints, health, readiness, metrics and
the JSON API (design.md: ``web`` sits above the pipeline and below the daemon and the
command line)."""

from __future__ import annotations

from gateway.pipeline import Pipeline
from gateway.web.api import create_api
from gateway.web.app import GatewayApp

__all__ = ["GatewayApp", "create_app"]


def create_app(pipeline: Pipeline, *, workers: int = 8) -> GatewayApp:
    """The whole application of one gateway process."""
    return GatewayApp(pipeline, create_api(pipeline), workers=workers)
