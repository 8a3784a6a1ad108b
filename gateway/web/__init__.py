"""The ASGI application served by uvicorn: the AS2 endpoints and the health check
(design.md: ``web`` sits above the pipeline and below the command line)."""

from gateway.web.app import GatewayApp

__all__ = ["GatewayApp"]
