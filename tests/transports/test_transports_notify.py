"""The alert channels against real servers on loopback: the webhook POSTs JSON with the
bearer token, maps HTTP statuses to retryable or permanent errors; email goes over SMTP
with AUTH; no error message ever carries the token, the password or the webhook's path."""

from __future__ import annotations

import pytest

from gateway.config import EmailSettings, WebhookSettings
from gateway.errors import PermanentTransportError, RetryableTransportError
from gateway.transports.http import post
from gateway.transports.notify import send_email, send_webhook
from tests.transports.receivers import SmtpReceiver, WebhookReceiver, closed_port_url

TOKEN = "tok-CANARY-7f3e9a"
PASSWORD = "pw-CANARY-51c2d8"


def webhook(url: str, **values: object) -> WebhookSettings:
    return WebhookSettings(url=url, token_env="ACORN_TEST_TOKEN", timeout_seconds=5, **values)


def test_webhook_posts_json_with_the_bearer_token() -> None:
    """One POST: Content-Type JSON, ``Authorization: Bearer <token>``, the document as sent."""
    with WebhookReceiver() as receiver:
        send_webhook(webhook(receiver.url), {"event": "alert", "subject": "ünïcode"},
                     environ={"ACORN_TEST_TOKEN": TOKEN})  # fmt: skip
    (request,) = receiver.requests
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.content_type == "application/json; charset=utf-8"
    assert request.path == "/hooks/acorn"
    assert request.json == {"event": "alert", "subject": "ünïcode"}


def test_webhook_without_a_token_sends_no_authorization() -> None:
    """No token configured: no Authorization header at all."""
    with WebhookReceiver() as receiver:
        send_webhook(WebhookSettings(url=receiver.url), {"event": "alert"})
    assert receiver.requests[0].authorization is None


@pytest.mark.parametrize(("status", "error"), [
    (500, RetryableTransportError), (503, RetryableTransportError),
    (429, RetryableTransportError), (401, PermanentTransportError),
    (404, PermanentTransportError),
])  # fmt: skip
def test_webhook_statuses_map_to_retryable_or_permanent(status: int, error: type) -> None:
    """5xx/429 may pass later; other 4xx need someone to act. The message names the server
    and the status, never the token, the path or the answer (an echo of our headers)."""
    with WebhookReceiver(default_status=status, echo=True) as receiver, \
            pytest.raises(error) as caught:
        send_webhook(webhook(receiver.url), {"event": "alert"},
                     environ={"ACORN_TEST_TOKEN": TOKEN})  # fmt: skip
    message = str(caught.value)
    assert f"HTTP {status}" in message and "127.0.0.1" in message
    assert TOKEN not in message and "/hooks" not in message and "Bearer" not in message


def test_webhook_connection_refused_is_retryable_and_hides_the_path() -> None:
    """Nothing listening: retryable; the message has host and port but not the path (which
    services like Slack use as a secret)."""
    url = closed_port_url().replace("/hooks/acorn", "/services/T0/B0/SECRETPATH")
    with pytest.raises(RetryableTransportError) as caught:
        send_webhook(webhook(url), {"event": "alert"}, environ={"ACORN_TEST_TOKEN": TOKEN})
    assert "SECRETPATH" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_webhook_token_that_cannot_be_a_header_is_refused_without_quoting_it() -> None:
    """A token with a line break (a badly written secret) is a permanent error that does not
    quote it, and nothing is sent."""
    with WebhookReceiver() as receiver, pytest.raises(PermanentTransportError) as caught:
        send_webhook(webhook(receiver.url), {"event": "alert"},
                     environ={"ACORN_TEST_TOKEN": TOKEN + "\nX-Injected: 1"})  # fmt: skip
    assert TOKEN not in str(caught.value) and receiver.requests == []


def test_webhook_token_variable_not_set_names_the_variable() -> None:
    """The token's variable is missing: a permanent error naming the variable."""
    with pytest.raises(PermanentTransportError, match="ACORN_TEST_TOKEN"):
        send_webhook(webhook("http://127.0.0.1:9/x"), {"event": "alert"}, environ={})


def test_http_post_never_quotes_an_invalid_header_value() -> None:
    """The generic POST refuses a header value HTTP cannot carry without quoting it."""
    with WebhookReceiver() as receiver, pytest.raises(PermanentTransportError) as caught:
        post(receiver.url, [("Authorization", f"Bearer {TOKEN}\r\nX: y")], b"{}",
             connect_timeout=5, read_timeout=5, label="test POST")  # fmt: skip
    assert TOKEN not in str(caught.value) and "test POST" in str(caught.value)


def email_settings(port: int, **values: object) -> EmailSettings:
    defaults: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "sender": "acorn@vendor.test",
        "recipients": ["ops@vendor.test", "edi@vendor.test"], "starttls": False,
        "timeout_seconds": 5,
    }  # fmt: skip
    defaults.update(values)
    return EmailSettings.model_validate(defaults)


def test_email_is_sent_with_login_to_every_recipient() -> None:
    """AUTH with the configured user and the password from the environment, one message to
    both recipients, the subject and text as given."""
    with SmtpReceiver(user="acorn", password=PASSWORD) as smtp:
        send_email(email_settings(smtp.port, user="acorn", password_env="ACORN_TEST_PW"),
                   "[acorn] certificate expiring", "body line\n",
                   environ={"ACORN_TEST_PW": PASSWORD})  # fmt: skip
    (mail,) = smtp.mails
    assert mail.authenticated and smtp.auth_attempts == ["acorn"]
    assert mail.recipients == ["ops@vendor.test", "edi@vendor.test"]
    assert mail.subject == "[acorn] certificate expiring"
    assert mail.text == "body line\n"
    assert mail.message["From"] == "acorn@vendor.test"


def test_email_wrong_password_is_permanent_and_never_quoted() -> None:
    """Authentication refused: a permanent error naming the user and the SMTP code, without
    the password; nothing delivered."""
    settings = email_settings(1, user="acorn", password_env="ACORN_TEST_PW")
    with SmtpReceiver(user="acorn", password="the-right-one") as smtp, \
            pytest.raises(PermanentTransportError) as caught:
        send_email(settings.model_copy(update={"port": smtp.port}), "s", "t",
                   environ={"ACORN_TEST_PW": PASSWORD})  # fmt: skip
    assert "535" in str(caught.value) and PASSWORD not in str(caught.value)
    assert smtp.mails == []


def test_email_starttls_required_but_not_offered_sends_nothing() -> None:
    """``starttls = true`` against a server without STARTTLS: refused before any AUTH (the
    password never goes out in clear)."""
    settings = email_settings(1, user="acorn", password_env="ACORN_TEST_PW", starttls=True)
    with SmtpReceiver(user="acorn", password=PASSWORD) as smtp, \
            pytest.raises(PermanentTransportError, match="STARTTLS"):
        send_email(settings.model_copy(update={"port": smtp.port}), "s", "t",
                   environ={"ACORN_TEST_PW": PASSWORD})  # fmt: skip
    assert smtp.auth_attempts == [] and smtp.mails == []


def test_email_server_down_is_retryable() -> None:
    """Nothing listening on the SMTP port: retryable."""
    port = int(closed_port_url().split(":")[2].split("/")[0])
    with pytest.raises(RetryableTransportError, match=f"127.0.0.1:{port}"):
        send_email(email_settings(port), "s", "t", environ={})


def test_email_user_without_a_password_source_is_a_configuration_problem() -> None:
    """``user`` set, no password configured: permanent, nothing tried."""
    with pytest.raises(PermanentTransportError, match="password_env"):
        send_email(email_settings(1, user="acorn"), "s", "t", environ={})
