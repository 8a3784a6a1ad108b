"""acorn.toml: partners, paths made absolute, ACORN_* overrides, errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError

GOOD = """
[gateway]
database = "sqlite:///data/acorn.db"
erp_inbox = "erp/in"
settle_seconds = 0.5

[[partners]]
name = "amazon"
id = "ZZ:AMAZON"
our_id = "ZZ:ACMEVENDOR"
ship_notice_release = "005010"
[partners.folder]
incoming = "to-us"
outgoing = "/srv/from-us"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acorn.toml"
    path.write_text(text)
    return path


def test_relative_paths_are_taken_from_the_file(tmp_path: Path) -> None:
    """Relative paths (and a relative SQLite file) resolve against the config's folder."""
    config = load_config(_write(tmp_path, GOOD), environ={})
    assert config.gateway.erp_inbox == (tmp_path / "erp/in").resolve()
    assert config.gateway.database == f"sqlite:///{(tmp_path / 'data/acorn.db').resolve()}"
    partner = config.partner("amazon")
    assert partner.folder is not None
    assert partner.folder.incoming == (tmp_path / "to-us").resolve()
    assert partner.folder.outgoing == Path("/srv/from-us")
    assert str(partner.id) == "ZZ:AMAZON" and partner.ship_notice_release == "005010"
    assert config.partner_by_id("ZZ:AMAZON") is partner


def test_environment_overrides_gateway_settings(tmp_path: Path) -> None:
    """ACORN_DATABASE and friends override [gateway]."""
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/acorn"
    config = load_config(_write(tmp_path, GOOD), environ={"ACORN_DATABASE": url,
                                                          "ACORN_SETTLE_SECONDS": "3"})  # fmt: skip
    assert config.gateway.database == url
    assert config.gateway.settle_seconds == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD.replace('id = "ZZ:AMAZON"', 'id = "AMAZON"'), "partners.0.id"),
        (GOOD.replace("settle_seconds = 0.5", "settle_seconds = -1"), "gateway.settle_seconds"),
        (GOOD + "\n[bogus]\nx = 1\n", "bogus"),
        (GOOD.replace('[partners.folder]\nincoming = "to-us"\noutgoing = "/srv/from-us"', ""),
         "partners.amazon.folder is required"),
        ("[gateway\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_bad_configuration_names_the_setting(tmp_path: Path, text: str, fragment: str) -> None:
    """A bad setting raises ConfigError naming the file and the setting."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(path) in str(error.value) and fragment in str(error.value)


def test_missing_file_and_unknown_partner(tmp_path: Path) -> None:
    """An absent file and an unknown partner are ConfigErrors."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml", environ={})
    config = load_config(_write(tmp_path, GOOD), environ={})
    with pytest.raises(ConfigError, match="no partner named 'walmart'"):
        config.partner("walmart")


def test_file_name_pattern_is_checked(tmp_path: Path) -> None:
    """The outbound file name pattern must keep {isa13} and name a file, not a path."""
    anchor = 'ship_notice_release = "005010"'

    def with_pattern(pattern: str) -> str:
        return GOOD.replace(anchor, f'{anchor}\nfile_name_pattern = "{pattern}"')

    good = "{partner}-{set}-{isa13}-{time}.x12"
    config = load_config(_write(tmp_path, with_pattern(good)), environ={})
    assert config.partner("amazon").file_name_pattern == good
    for bad, fragment in (("{set}.edi", "file_name_pattern"), ("{isa13}/{set}", "not a path"),
                          ("{isa13}-{nope}", "unknown placeholder")):  # fmt: skip
        with pytest.raises(ConfigError, match=fragment):
            load_config(_write(tmp_path, with_pattern(bad)), environ={})
