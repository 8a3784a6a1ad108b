"""The JSON API under schemathesis: every operation of the OpenAPI description, with
generated parameters and an operator's credentials, never answers with a server error (5xx)
and always answers as the description says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.pipeline.as2_sim import (
    Served,
    amazon_message,
    as2_site,
    basic_auth,
    post_message,
    serving,
)

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("fuzz")
    site = as2_site(root / "acme", f"sqlite:///{root / 'a.db'}")
    with serving(site) as served:
        assert post_message(served.url, amazon_message(site, PAYLOAD)).status == 200
        yield served


def test_the_api_never_fails_with_a_server_error(running: Served) -> None:
    base = running.url.removesuffix("/as2")
    api = schemathesis.openapi.from_url(f"{base}/openapi.json",
                                        headers={"Authorization": basic_auth()})  # fmt: skip
    tried: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": basic_auth()})
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text[:500])  # fmt: skip
            case.validate_response(response)

        call()
    assert {"GET /api/exchanges", "GET /api/exchanges/{exchange_id}", "GET /metrics",
            "GET /api/alerts", "GET /api/po/{po_number}"} <= set(tried)  # fmt: skip
