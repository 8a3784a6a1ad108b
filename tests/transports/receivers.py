"""Real servers on loopback that receive alerts: a webhook (``http.server`` in a thread) and
an SMTP server (aiosmtpd), each recording everything it was sent.

* :class:`WebhookReceiver` answers each POST with the next status of ``statuses`` (then
  ``default_status``), and records the path, the ``Authorization`` header and the body
  (JSON-decoded when it is JSON) of every request, whatever it answered.
* :class:`SmtpReceiver` accepts mail (optionally offering AUTH with one user and password,
  over plain TCP: aiosmtpd's test setting ``auth_require_tls=False``) and records each
  message parsed, with whether the session was authenticated.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Request:
    """One POST the webhook received."""

    path: str
    authorization: str | None
    content_type: str | None
    body: bytes
    status: int  # what it was answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A webhook on 127.0.0.1 (an ephemeral port), in a thread; use as a context manager."""

    def __init__(self, *, statuses: list[int] | None = None, default_status: int = 204,
                 echo: bool = False) -> None:  # fmt: skip
        self.statuses = list(statuses or [])
        self.default_status = default_status
        self.echo = echo  # answer with the request's headers in the body (a hostile echo)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses \
                        else receiver.default_status  # fmt: skip
                    receiver.requests.append(Request(
                        self.path, self.headers.get("Authorization"),
                        self.headers.get("Content-Type"), body, status,
                    ))  # fmt: skip
                answer = str(self.headers).encode() if receiver.echo else b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/acorn"

    def delivered(self) -> list[dict[str, Any]]:
        """The bodies of the POSTs answered 2xx, in order."""
        with self._lock:
            return [r.json for r in self.requests if 200 <= r.status < 300]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks/acorn"


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    mail_from: str
    recipients: list[str]
    message: EmailMessage
    authenticated: bool

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        text: str = self.message.get_content()
        return text.replace("\r\n", "\n")  # as sent, without SMTP's line ends


@dataclass
class _Handler:
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)  # fmt: skip
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed,  # type: ignore[arg-type]
                               bool(session.authenticated)))  # fmt: skip
        return "250 OK"


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 (aiosmtpd); AUTH LOGIN/PLAIN against ``user`` and
    ``password`` when given (offered without TLS, for the test; not required, so check
    ``Mail.authenticated``)."""

    def __init__(self, *, user: str | None = None, password: str | None = None,
                 port: int | None = None) -> None:  # fmt: skip
        self.user, self.password = user, password
        self.handler = _Handler()
        self.auth_attempts: list[str] = []  # the user names tried
        if port is None:  # aiosmtpd cannot listen on port 0: take a free one
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            sock.close()
        self.port = port
        options: dict[str, Any] = {}
        if user is not None:
            # AUTH offered over plain TCP (a test setting), not required: the tests assert
            # that each mail came from an authenticated session.
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     **options)  # fmt: skip

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> AuthResult:  # fmt: skip
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.auth_attempts.append(data.login.decode())
        ok = data.login.decode() == self.user and data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)

    @property
    def mails(self) -> list[Mail]:
        return list(self.handler.mails)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
