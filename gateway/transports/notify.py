"""The channels alerts travel on: a webhook (an HTTP POST of JSON) and email (SMTP).

Bytes out, nothing of what an alert means: :mod:`gateway.pipeline.notify` decides what is
sent and when. Each function delivers one notice or raises:

* :class:`~gateway.errors.RetryableTransportError` when trying again later may work (the
  server cannot be reached, times out, answers 408/429/5xx or an SMTP 4xx);
* :class:`~gateway.errors.PermanentTransportError` when someone must act first (the secret
  is not configured, authentication refused, HTTP 4xx, SMTP 5xx, STARTTLS not offered).

Secrets (the webhook token, the SMTP password) are read with
:func:`gateway.config.read_secret` at each send, so a rotated secret is used without a
restart. They go into the ``Authorization`` header or the SMTP AUTH exchange and nowhere
else: error messages name the channel and the server (``scheme://host:port`` for a webhook,
never its path, which some services use as a secret) with a status code, never a header, an
answer body or a password; any text a server sends back is cut and scrubbed of the secret
(reliability.md G6).
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from gateway.config import EmailSettings, WebhookSettings, read_secret
from gateway.errors import ConfigError, PermanentTransportError, RetryableTransportError
from gateway.transports.http import post

#: HTTP statuses after which the same POST may succeed later.
_RETRYABLE_HTTP = frozenset({408, 425, 429})


def _secret(what: str, env: str | None, file: Any, environ: dict[str, str] | None) -> str | None:
    try:
        return read_secret(what, env, file, environ)
    except ConfigError as exc:  # names the variable or file, never a value
        raise PermanentTransportError(str(exc)) from None


def _scrub(text: str, secret: str | None, limit: int = 200) -> str:
    """Server text fit for an error message: one line, cut to ``limit``, the secret (if it
    is ever echoed) replaced."""
    line = " ".join(text.split())
    if secret:
        line = line.replace(secret, "[redacted]")
    return line[:limit]


def webhook_place(url: str) -> str:
    """How messages name a webhook: ``scheme://host:port`` (the path may hold a secret)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def send_webhook(
    settings: WebhookSettings, document: Mapping[str, Any],
    *, environ: dict[str, str] | None = None, user_agent: str = "acorn-gateway",
) -> None:  # fmt: skip
    """POST ``document`` as JSON (UTF-8) to the webhook, with ``Authorization: Bearer
    <token>`` when a token is configured; returns when the server answered 2xx."""
    token = _secret("alerts.webhook token", settings.token_env, settings.token_file, environ)
    place = f"alert webhook {webhook_place(settings.url)}"
    headers = [("Content-Type", "application/json; charset=utf-8"), ("User-Agent", user_agent)]
    if token:
        if any(ord(c) < 0x21 or ord(c) > 0x7E for c in token):
            raise PermanentTransportError(
                "alerts.webhook token: has characters an HTTP header cannot carry "
                "(blanks, line breaks, non-ASCII)"
            )
        headers.append(("Authorization", f"Bearer {token}"))
    body = json.dumps(dict(document), ensure_ascii=False, sort_keys=True).encode("utf-8")
    answer = post(settings.url, headers, body, connect_timeout=settings.timeout_seconds,
                  read_timeout=settings.timeout_seconds, label=place,
                  show_path=False)  # fmt: skip
    if 200 <= answer.status < 300:
        return
    # The answer's body is not quoted: a receiver may echo the request, token included.
    if answer.status >= 500 or answer.status in _RETRYABLE_HTTP:
        raise RetryableTransportError(f"{place}: HTTP {answer.status}")
    raise PermanentTransportError(f"{place}: HTTP {answer.status}")


def email_message(settings: EmailSettings, subject: str, text: str) -> EmailMessage:
    """The mail of one notice: plain text, UTF-8, from ``sender`` to every recipient; the
    subject on one line."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = " ".join(subject.split())[:250]
    message["Date"] = formatdate(usegmt=True)
    domain = settings.sender.rpartition("@")[2] or "acorn-gateway.invalid"
    message["Message-ID"] = make_msgid("acorn", domain=domain)
    message.set_content(text)
    return message


def send_email(
    settings: EmailSettings, subject: str, text: str, *, environ: dict[str, str] | None = None
) -> None:
    """Send one mail over SMTP: SMTPS when ``ssl``, else STARTTLS when ``starttls`` (refused
    when the server does not offer it: the password never travels in clear unless the
    configuration says so), AUTH when ``user`` is set; returns when the server accepted it
    for at least one recipient."""
    password = _secret("alerts.email password", settings.password_env, settings.password_file,
                       environ)  # fmt: skip
    if settings.user and password is None:
        raise PermanentTransportError(
            "alerts.email: user is set but neither password_env nor password_file"
        )
    place = f"alert email via {settings.host}:{settings.port}"
    message = email_message(settings, subject, text)
    client: smtplib.SMTP | None = None
    try:
        if settings.ssl:
            client = smtplib.SMTP_SSL(settings.host, settings.port,
                                      timeout=settings.timeout_seconds,
                                      context=ssl.create_default_context())  # fmt: skip
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
        if settings.user:
            client.login(settings.user, password or "")
        # Recipients refused while others accepted are not retried: those who got the mail
        # would get it again.
        client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentTransportError(
            f"{place}: authentication as {settings.user!r} refused ({exc.smtp_code})"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentTransportError(f"{place}: {_scrub(str(exc), password)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _text in exc.recipients.values()})
        raise PermanentTransportError(
            f"{place}: every recipient refused ({', '.join(map(str, codes))})"
        ) from None
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error
        reply_text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        error = RetryableTransportError if exc.smtp_code < 500 else PermanentTransportError
        raise error(f"{place}: {exc.smtp_code} {_scrub(reply_text, password)}") from None
    except TimeoutError:
        raise RetryableTransportError(f"{place}: timed out") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableTransportError(
            f"{place}: {type(exc).__name__}: {_scrub(str(exc), password)}"
        ) from None
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
