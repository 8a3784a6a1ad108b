"""The gateway's HTTP API (FastAPI): health, readiness, metrics and a read-only JSON API.

* ``GET /healthz``: the process answers (alive).
* ``GET /readyz``: 200 when the database answers, its schema is current and every partner's
  transport is configured and usable (folders exist, key and certificate files load); 503
  with the failing checks otherwise.
* ``GET /metrics``: Prometheus (see :mod:`gateway.web.metrics`).
* ``GET /api/exchanges``, ``GET /api/exchanges/{id}``, ``GET /api/alerts``: what the
  operator CLI shows, as JSON (the OpenAPI description is at ``/openapi.json``).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from gateway.errors import AcornError
from gateway.pipeline import Pipeline
from gateway.pipeline.operator import exchange_view, po_chain, summary_json
from gateway.store.operator import ExchangeFilter
from gateway.web.auth import AuthMiddleware, csrf_ok, log_in, session_secret
from gateway.web.metrics import render
from gateway.web.pages import add_pages
from gateway.web.templating import STATIC, page

#: The largest id a database integer column holds (SQLite and PostgreSQL BIGINT).
_MAX_ID = 2**63 - 1


def readiness(pipeline: Pipeline) -> dict[str, str | None]:
    """Each readiness check and its problem (None when it passes)."""
    checks: dict[str, str | None] = {}
    try:
        pipeline.store.ping()
        checks["database"] = None
        checks["migrations"] = (None if pipeline.store.schema_is_current()
                                else "the schema is not current: run acorn db upgrade")  # fmt: skip
    except AcornError as exc:
        checks["database"] = str(exc)
        checks["migrations"] = "unknown: the database does not answer"
    except Exception as exc:  # a driver error of any kind: not ready, with the reason
        checks["database"] = f"{type(exc).__name__}: {exc}"
    for partner in pipeline.config.partners:
        checks[f"transport:{partner.name}"] = _transport_problem(pipeline, partner)
    return checks


def _transport_problem(pipeline: Pipeline, partner: Any) -> str | None:
    try:
        if partner.transport == "as2":
            pipeline.as2_station()
            pipeline.as2_partner(partner)
        elif partner.transport == "folder":
            for folder in (partner.folder.incoming, partner.folder.outgoing):
                if not os.path.isdir(folder):
                    return f"folder {str(folder)!r} does not exist"
        else:
            for endpoint in filter(None, (partner.sftp.download, partner.sftp.upload)):
                for path in filter(None, (endpoint.private_key, endpoint.known_hosts)):
                    if not os.access(path, os.R_OK):
                        return f"{str(path)!r} cannot be read"
    except AcornError as exc:
        return str(exc)
    return None


def create_api(pipeline: Pipeline) -> FastAPI:
    """The FastAPI application of ``pipeline``."""
    api = FastAPI(title="acorn-gateway", version="1", docs_url=None, redoc_url=None)
    settings = pipeline.config.web
    api.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @api.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Any:
        """The login page."""
        return page(request, "login.html", next=_local(next), error=None)

    @api.post("/login", include_in_schema=False)
    def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()],
              next: Annotated[str, Form()] = "/") -> Any:  # fmt: skip
        """Start a session; the same page again, with an error, on a wrong password."""
        if log_in(request.session, settings, name, password) is None:
            return page(request, "login.html", status_code=401, next=_local(next),
                        error="Unknown operator or wrong password.")  # fmt: skip
        return RedirectResponse(_local(next), status_code=303)

    @api.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Any:
        """End the session."""
        operator = request.state.operator
        if operator is not None and not csrf_ok(request.session, operator, csrf):
            raise HTTPException(403, "missing or wrong CSRF token")
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "alive"}

    @api.get("/readyz", responses={503: {"description": "not ready: the failing checks"}})
    def readyz() -> JSONResponse:
        """Ready to work: database, schema, transports."""
        checks = readiness(pipeline)
        ready = all(problem is None for problem in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @api.get("/metrics", response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus"}})
    def metrics() -> Response:
        """Prometheus metrics."""
        return Response(render(pipeline), media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.get("/api/exchanges")
    def exchanges(
        state: Annotated[list[str] | None, Query()] = None,
        partner: str | None = None,
        direction: Annotated[str | None, Query(pattern="^(in|out)$")] = None,
        channel: Annotated[str | None, Query(pattern="^(partner|erp)$")] = None,
        set_id: Annotated[str | None, Query(alias="set", pattern="^[0-9]{3}$")] = None,
        po: str | None = None,
        invoice: str | None = None,
        shipment: str | None = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=_MAX_ID)] = 0,
    ) -> dict[str, Any]:
        """Exchanges, newest first, filtered like ``acorn tx list``."""
        where = ExchangeFilter(
            partner=partner, set_id=set_id, states=tuple(state or ()), direction=direction,
            channel=channel, since=since.replace(tzinfo=None) if since else None,
            po_number=po, invoice=invoice, shipment=shipment,
        )  # fmt: skip
        with pipeline.store.transaction() as tx:
            total = tx.count_exchanges(where)
            rows = tx.list_exchanges(where, limit=limit, offset=offset)
        return {"total": total, "exchanges": [summary_json(s) for s in rows]}

    @api.get("/api/exchanges/{exchange_id}", responses={404: {"description": "no such id"}})
    def exchange(exchange_id: Annotated[int, Path(ge=1, le=_MAX_ID)]) -> dict[str, Any]:
        """One exchange with everything linked to it (``acorn tx show --json``)."""
        view = exchange_view(pipeline.store, exchange_id)
        if view is None:
            raise HTTPException(404, f"no exchange {exchange_id}")
        return view

    @api.get("/api/po/{po_number}", responses={404: {"description": "no such PO"}})
    def purchase_order(po_number: str, partner: str | None = None) -> dict[str, Any]:
        """A purchase order's chain and what is due (``acorn po status --json``)."""
        chain = po_chain(pipeline.store, po_number, partner)
        if not chain:
            raise HTTPException(404, f"no purchase order {po_number}")
        return {"po_number": po_number, "chain": chain}

    @api.get("/api/alerts")
    def alerts(open_only: bool = True) -> dict[str, Any]:
        """Alerts (the open ones by default)."""
        with pipeline.store.transaction() as tx:
            found = tx.alerts(open_only=open_only)
        return {"alerts": [
            {"id": a.id, "key": a.key, "kind": a.kind, "partner": a.partner,
             "subject": a.subject, "detail": a.detail, "exchange_id": a.exchange_id,
             "raised_at": a.raised_at.isoformat(),
             "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None}
            for a in found
        ]}  # fmt: skip

    add_pages(api, pipeline)
    # Middleware runs outermost last-added first: the session is read, then the operator.
    api.add_middleware(AuthMiddleware, config=pipeline.config)
    api.add_middleware(SessionMiddleware, secret_key=session_secret(settings),
                       session_cookie="acorn_session", max_age=int(settings.session_minutes * 60),
                       same_site="strict", https_only=settings.secure_cookies)  # fmt: skip
    return api


def _local(target: str) -> str:
    """Only a path of this site (no open redirect to another host)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
