"""The dashboard's Jinja2 templates (server-rendered, no front-end build step) and the
values every page gets: the operator, the CSRF token, the product version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from gateway import __version__
from gateway.web.auth import csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
STATIC = HERE / "static"


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> Any:
    """Render ``template`` with the common values (``operator``, ``csrf``, ``version``)."""
    session = request.scope.get("session", {})
    context = {"operator": getattr(request.state, "operator", None),
               "csrf": csrf_token(session) if "session" in request.scope else "",
               "version": __version__, **values}  # fmt: skip
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
