"""Authentication of the dashboard and the API: nothing answers without an operator but
/healthz, /readyz and the AS2 endpoints; sessions (signed cookie, CSRF token, expiry), HTTP
Basic for scripts, a trusted reverse proxy's header; no open redirect."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from pathlib import Path

import pytest

from gateway.web.auth import PUBLIC_PATHS, hash_password, verify_password
from tests.pipeline.as2_sim import (
    OPERATOR,
    PASSWORD,
    Served,
    Site,
    as2_site,
    basic_auth,
    serving,
)


def request(served: Served, method: str, path: str, *, headers: dict[str, str] | None = None,
            body: str | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    port = served.sock.getsockname()[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def site_with(tmp_path: Path, web: str = "") -> Site:
    site = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'a.db'}")
    if web:
        site.config.write_text(site.config.read_text().replace("[[web.operators]]",
                                                               web + "\n[[web.operators]]"))
    return site


@pytest.fixture
def served(tmp_path: Path) -> Served:
    with serving(site_with(tmp_path)) as running:
        yield running  # type: ignore[misc]


def test_passwords_are_kept_as_salted_scrypt_hashes() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt$") and first != second  # salted
    assert verify_password("s3cret", first) and not verify_password("S3cret", first)
    assert not verify_password("s3cret", "scrypt$garbage") and not verify_password("x", None)


def test_no_route_answers_without_an_operator_but_the_public_ones(served: Served) -> None:
    """Every route of the application, found from the application itself."""
    api = served.app.api
    paths = {re.sub(r"\{[^}]+\}", "1", route.path) for route in api.routes}  # type: ignore[attr-defined]
    assert {"/metrics", "/api/exchanges", "/api/exchanges/1", "/openapi.json"} <= paths
    for path in sorted(paths):
        if path in PUBLIC_PATHS or path.startswith("/static"):
            continue
        for method in ("GET", "POST"):
            status, headers, _ = request(served, method, path)
            assert status == 401, (method, path, status)
            assert "www-authenticate" not in headers  # a browser never caches Basic creds
    for public in ("/healthz", "/readyz"):
        assert request(served, "GET", public)[0] == 200


def test_a_browser_is_sent_to_the_login_page_and_back(served: Served) -> None:
    status, headers, _ = request(served, "GET", "/api/exchanges?x=1",
                                 headers={"Accept": "text/html"})  # fmt: skip
    assert status == 303
    assert headers["location"] == "/login?" + urllib.parse.urlencode(
        {"next": "/api/exchanges?x=1"})
    status, _, body = request(served, "GET", "/login")
    assert status == 200 and b'name="password"' in body


def log_in(served: Served, name: str = OPERATOR, password: str = PASSWORD,
           next_path: str = "/api/alerts") -> tuple[int, dict[str, str]]:  # fmt: skip
    form = urllib.parse.urlencode({"name": name, "password": password, "next": next_path})
    status, headers, _ = request(served, "POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    return status, headers


def test_a_session_lets_an_operator_in_and_a_wrong_password_does_not(served: Served) -> None:
    status, headers = log_in(served, password="wrong")
    assert status == 401
    anonymous = headers.get("set-cookie", "").split(";")[0]  # at most a CSRF token
    assert request(served, "GET", "/api/alerts", headers={"Cookie": anonymous})[0] == 401
    status, headers = log_in(served)
    assert status == 303 and headers["location"] == "/api/alerts"
    cookie = headers["set-cookie"].split(";")[0]
    assert "httponly" in headers["set-cookie"].lower()
    assert "samesite=strict" in headers["set-cookie"].lower()
    assert request(served, "GET", "/api/alerts", headers={"Cookie": cookie})[0] == 200


def test_the_login_never_redirects_to_another_site(served: Served) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        status, headers = log_in(served, next_path=target)
        assert status == 303 and headers["location"] == "/"


def test_logging_out_needs_the_sessions_csrf_token(served: Served) -> None:
    _, headers = log_in(served)
    cookie = headers["set-cookie"].split(";")[0]
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    assert request(served, "POST", "/logout", headers=form, body="csrf=forged")[0] == 403
    status, _, body = request(served, "GET", "/login", headers={"Cookie": cookie})
    token = re.search(rb'name="csrf" value="([^"]+)"', body)
    assert token is not None, body[:500]
    status, headers, _ = request(served, "POST", "/logout", headers=form,
                                 body=f"csrf={token.group(1).decode()}")  # fmt: skip
    assert status == 303
    cleared = headers["set-cookie"].split(";")[0]
    assert request(served, "GET", "/api/alerts", headers={"Cookie": cleared})[0] == 401


def test_http_basic_serves_scripts_and_prometheus(served: Served) -> None:
    assert request(served, "GET", "/metrics", headers={"Authorization": basic_auth()})[0] == 200
    wrong = basic_auth(password="nope")
    assert request(served, "GET", "/metrics", headers={"Authorization": wrong})[0] == 401
    stranger = basic_auth(name="mallory")
    assert request(served, "GET", "/metrics", headers={"Authorization": stranger})[0] == 401


def test_sessions_expire(tmp_path: Path) -> None:
    site = site_with(tmp_path, "[web]\nsession_minutes = 0.005\n")
    with serving(site) as served:
        _, headers = log_in(served)
        cookie = headers["set-cookie"].split(";")[0]
        assert request(served, "GET", "/api/alerts", headers={"Cookie": cookie})[0] == 200
        time.sleep(0.5)
        assert request(served, "GET", "/api/alerts", headers={"Cookie": cookie})[0] == 401


def test_a_trusted_proxy_names_the_operator(tmp_path: Path) -> None:
    site = site_with(tmp_path, '[web]\ntrusted_user_header = "X-Forwarded-User"\n'
                               '[[web.operators]]\nname = "carol"\nrole = "read"\n')
    with serving(site) as served:
        status, _, _ = request(served, "GET", "/api/alerts",
                               headers={"X-Forwarded-User": "carol"})  # fmt: skip
        assert status == 200
        assert request(served, "GET", "/api/alerts",
                       headers={"X-Forwarded-User": "mallory"})[0] == 401
        # carol has no password: Basic cannot log her in
        assert request(served, "GET", "/api/alerts",
                       headers={"Authorization": basic_auth("carol", "")})[0] == 401
