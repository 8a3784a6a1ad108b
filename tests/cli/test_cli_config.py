"""``acorn init`` and ``acorn config check``: a starting configuration that checks clean, and
every problem explained with its key path (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main


def test_init_writes_a_configuration_that_checks_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "edi"
    assert main(["init", str(root), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["config"] == str(root / "acorn.toml")
    for folder in ("erp/inbox", "erp/outbox", "partner/to-us", "partner/from-us", "keys"):
        assert (root / folder).is_dir()
    assert (root / "keys").stat().st_mode & 0o077 == 0
    assert "# acorn-gateway configuration" in (root / "acorn.toml").read_text()
    assert main(["config", "check", "--config", str(root / "acorn.toml")]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")


def test_init_never_overwrites_a_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    before = (tmp_path / "acorn.toml").read_text()
    assert main(["init", str(tmp_path)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (tmp_path / "acorn.toml").read_text() == before


def test_config_check_explains_every_error_with_its_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    config = tmp_path / "acorn.toml"
    text = config.read_text().replace('usage = "T"', 'usage = "X"')
    config.write_text(text.replace("poll_seconds = 60", "poll_seconds = -1"))
    capsys.readouterr()
    assert main(["config", "check", "--config", str(config), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    keys = {p["key"] for p in report["problems"]}
    assert keys == {"partners.0.usage", "partners.0.poll_seconds"}


def test_config_check_finds_missing_folders_and_unloadable_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    (tmp_path / "partner" / "to-us").rmdir()
    config = tmp_path / "acorn.toml"
    config.write_text(config.read_text().replace(
        '# [as2]\n# as2_id = "ACMEVENDOR"\n# mdn_url = "https://edi.example.com/as2/mdn"\n'
        '# [as2.key]\n# certificate = "keys/as2.cert.pem"\n# private_key = "keys/as2.key.pem"\n',
        '[as2]\nas2_id = "ACMEVENDOR"\n[as2.key]\ncertificate = "keys/as2.cert.pem"\n'
        'private_key = "keys/as2.key.pem"\n',
    ))  # fmt: skip
    capsys.readouterr()
    assert main(["config", "check", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert "partners.0(amazon).folder.incoming: folder does not exist" in out
    assert "as2.key:" in out and "as2.cert.pem" in out


@pytest.mark.parametrize("command", [["init"], ["config", "check"], ["run"], ["serve"]])
def test_every_new_command_has_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    assert "usage: acorn" in capsys.readouterr().out
