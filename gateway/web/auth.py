"""Who is asking: operators of the dashboard and the API, their roles, sessions and CSRF.

* **Everything needs an operator** but ``/healthz``, ``/readyz``, the AS2 endpoints (served
  before this application), ``/login`` and ``/static``. :class:`AuthMiddleware` enforces it for
  every route, present and future: a page asked by a browser is redirected to ``/login``, any
  other request gets 401 (without a ``WWW-Authenticate`` challenge, so that a browser never
  caches Basic credentials that a forged cross-site request could reuse).
* **Who** (first match): a reverse proxy's header (``web.trusted_user_header``, believed only
  from ``web.trusted_proxies``), the session cookie (signed, ``SameSite=Strict``, expiring
  after ``web.session_minutes``), or HTTP Basic with an operator's password (scripts,
  Prometheus). The operator must be in ``web.operators``; its role is ``read`` or ``admin``.
* **CSRF**: every state-changing request made with a session (a form's ``csrf`` field or an
  ``X-CSRF-Token`` header) must carry the session's token; Basic and proxy-authenticated
  requests are not ambient browser credentials and need none.
* Passwords are kept as scrypt hashes (:func:`hash_password`, ``acorn operator hash``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.config import Config, WebSettings, read_secret

PUBLIC_PATHS = ("/healthz", "/readyz", "/login")
PUBLIC_PREFIXES = ("/static/",)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class Operator:
    """An authenticated operator."""

    name: str
    role: Literal["read", "admin"]
    #: How they were authenticated: ``session``, ``basic`` or ``proxy``.
    method: str

    @property
    def admin(self) -> bool:
        """May act (resend, reprocess), not only look."""
        return self.role == "admin"


def hash_password(password: str) -> str:
    """A scrypt hash of ``password`` with a random salt, as ``web.operators`` keeps it."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return (f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
            f"{base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}")  # fmt: skip


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the hash ``stored`` (constant time; False for a hash
    that cannot be read)."""
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), dklen=len(expected))  # fmt: skip
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def session_secret(settings: WebSettings) -> str:
    """The key that signs session cookies (a random one when none is configured)."""
    configured = read_secret("web.secret_key", settings.secret_key_env,
                             settings.secret_key_file)  # fmt: skip
    return configured or secrets.token_urlsafe(32)


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, colon, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if colon else None


def authenticate(settings: WebSettings, headers: dict[str, str], client: str | None,
                 session: MutableMapping[str, Any]) -> Operator | None:  # fmt: skip
    """The operator behind a request, or None (see the module docstring)."""
    if settings.trusted_user_header and client in settings.trusted_proxies:
        name = headers.get(settings.trusted_user_header.lower())
        account = settings.operator(name) if name else None
        if account is not None:
            return Operator(account.name, account.role, "proxy")
    name = session.get("operator")
    if name:
        account = settings.operator(name)
        fresh = time.time() - float(session.get("since", 0)) < settings.session_minutes * 60
        if account is not None and fresh:
            return Operator(account.name, account.role, "session")
        session.clear()  # expired, or the operator was removed from the configuration
    credentials = _basic(headers.get("authorization", ""))
    if credentials is not None:
        account = settings.operator(credentials[0])
        if account is not None and verify_password(credentials[1], account.password_hash):
            return Operator(account.name, account.role, "basic")
    return None


def log_in(session: MutableMapping[str, Any], settings: WebSettings, name: str,
           password: str) -> Operator | None:  # fmt: skip
    """Start a session for ``name`` when the password matches; None otherwise."""
    account = settings.operator(name)
    if account is None or not verify_password(password, account.password_hash):
        return None
    session.clear()
    session.update(operator=account.name, since=time.time(), csrf=secrets.token_urlsafe(24))
    return Operator(account.name, account.role, "session")


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def csrf_ok(session: MutableMapping[str, Any], operator: Operator, sent: str | None) -> bool:
    """Whether a state-changing request carries the right token (only sessions need one)."""
    if operator.method != "session":
        return True
    expected = session.get("csrf")
    return bool(expected and sent and hmac.compare_digest(str(expected), sent))


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class AuthMiddleware:
    """Refuse every request without an operator, except the public paths; put the
    operator in ``scope["state"]["operator"]`` (``request.state.operator``)."""

    def __init__(self, app: Any, config: Config) -> None:
        self.app = app
        self.settings = config.web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}  # fmt: skip
        client = scope.get("client")
        operator = authenticate(self.settings, headers, client[0] if client else None,
                                scope.get("session", {}))  # fmt: skip
        scope.setdefault("state", {})["operator"] = operator
        if operator is not None or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
            target = path + (f"?{scope['query_string'].decode()}" if scope["query_string"]
                             else "")  # fmt: skip
            location = "/login?" + _query({"next": target})
            await _answer(send, 303, b"", [(b"location", location.encode("latin-1"))])
            return
        await _answer(send, 401, b'{"detail":"an operator must log in"}',
                      [(b"content-type", b"application/json")])


def _query(values: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(values)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
                  ) -> None:  # fmt: skip
    headers = [*headers, (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
