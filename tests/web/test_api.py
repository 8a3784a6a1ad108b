"""Health, readiness, metrics and the JSON API, served by uvicorn on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.pipeline.as2_sim import (
    amazon_message,
    as2_site,
    basic_auth,
    post_message,
    serving,
)

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()


def get(url: str, *, authorization: str | None = None) -> tuple[int, str, bytes]:
    """GET ``url`` as the test operator (HTTP Basic) unless ``authorization`` says else
    (``""``: anonymous)."""
    request = urllib.request.Request(url)
    credentials = basic_auth() if authorization is None else authorization
    if credentials:
        request.add_header("Authorization", credentials)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.read()


def test_readyz_checks_the_database_the_schema_and_each_transport(tmp_path: Path) -> None:
    site = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'a.db'}")
    with serving(site) as served:
        base = served.url.removesuffix("/as2")
        status, _, body = get(f"{base}/readyz")
        report = json.loads(body)
        assert status == 200 and report["ready"] is True
        assert set(report["checks"]) == {"database", "migrations", "transport:amazon"}
        served.pipeline._as2_partners.clear()  # forget the loaded certificate...
        site.partner_identities[0].cert_path.unlink()  # ...whose file is now gone
        status, _, body = get(f"{base}/readyz")
        report = json.loads(body)
        assert status == 503 and report["ready"] is False
        assert "amazon.cert.pem" in report["checks"]["transport:amazon"]
        assert report["checks"]["database"] is None


def test_metrics_count_exchanges_by_direction_partner_and_state(tmp_path: Path) -> None:
    site = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'a.db'}")
    with serving(site) as served:
        base = served.url.removesuffix("/as2")
        assert post_message(served.url, amazon_message(site, PAYLOAD)).status == 200
        status, content_type, body = get(f"{base}/metrics")
        text = body.decode()
        assert status == 200 and content_type.startswith("text/plain")
        assert 'acorn_exchanges{direction="in",partner="amazon",state="received"} 1.0' in text
        assert 'acorn_queue_depth{partner="amazon",state="received"} 1.0' in text
        assert 'acorn_certificate_days_left{fingerprint=' in text
        assert "# TYPE acorn_ack_latency_seconds histogram" in text


def test_the_json_api_lists_exchanges_and_shows_one_with_its_timeline(tmp_path: Path) -> None:
    site = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'a.db'}")
    with serving(site) as served:
        base = served.url.removesuffix("/as2")
        assert post_message(served.url, amazon_message(site, PAYLOAD)).status == 200
        status, _, body = get(f"{base}/api/exchanges?direction=in")
        listing = json.loads(body)
        assert status == 200 and listing["total"] == 1
        [row] = listing["exchanges"]
        assert (row["partner"], row["state"], row["direction"]) == ("amazon", "received", "in")
        status, _, body = get(f"{base}/api/exchanges/{row['id']}")
        detail = json.loads(body)
        assert [e["event"] for e in detail["timeline"]] == ["as2_received"]
        assert detail["exchange"]["id"] == row["id"]
        assert detail["as2"] and detail["x12"][0]["segment"].startswith("ISA")
        assert get(f"{base}/api/exchanges?state=delivered")[2] == b'{"total":0,"exchanges":[]}'
        assert get(f"{base}/api/po/NOSUCHPO")[0] == 404
        assert get(f"{base}/api/exchanges/999999")[0] == 404
        assert json.loads(get(f"{base}/api/alerts")[2]) == {"alerts": []}
        assert get(f"{base}/openapi.json")[0] == 200
