"""``acorn doctor`` with AS2: the partner's URL probed, every certificate listed with its
fingerprint and days left, an expired one failing the check (exit 1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.transports.as2.certificates import fingerprint
from tests.pipeline.as2_sim import amazon_site, as2_site, serving
from tests.transports.as2.pki import make_identity


def test_doctor_lists_every_certificate_with_its_days_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = datetime.now(UTC) + timedelta(days=20, hours=1)
    amazon_cert = make_identity(tmp_path / "keys", "amazon-soon", not_after=soon)
    ours = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'a.db'}", amazon=[amazon_cert])
    amazon = amazon_site(tmp_path / "amazon", f"sqlite:///{tmp_path / 'b.db'}", ours)
    ours.config.write_text(ours.config.read_text().replace("http://127.0.0.1:9/as2", amazon.url))
    with serving(amazon):
        assert main(["doctor", "--config", str(ours.config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [check] = report["checks"]
    assert (check["transport"], check["connects"], check["where"]) == ("as2", True, amazon.url)
    by_owner = {c["owner"]: c for c in report["certificates"]}
    assert by_owner["amazon"]["days_left"] == 20
    assert by_owner["amazon"]["fingerprint"] == fingerprint(amazon_cert.certificate)
    assert by_owner["ours"]["days_left"] in (364, 365) and by_owner["ours"]["problem"] is None
    assert main(["doctor", "--config", str(ours.config)]) == 3  # Amazon no longer listening
    out = capsys.readouterr().out
    assert "UNREACHABLE" in out and "20 days left" in out


def test_an_expired_partner_certificate_fails_the_doctor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    expired = make_identity(tmp_path / "keys", "amazon-old", not_before=now - timedelta(days=400),
                            not_after=now - timedelta(days=3))  # fmt: skip
    ours = as2_site(tmp_path / "acme", f"sqlite:///{tmp_path / 'a.db'}", amazon=[expired])
    with serving(ours) as served:  # a URL that answers: only the certificate is wrong
        text = ours.config.read_text().replace("http://127.0.0.1:9/as2", served.url)
        ours.config.write_text(text)
        assert main(["doctor", "--config", str(ours.config)]) == 1
    out = capsys.readouterr().out
    assert f"expired on {(now - timedelta(days=3)).date().isoformat()}" in out


def test_serve_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    assert "POST /as2" in capsys.readouterr().out
