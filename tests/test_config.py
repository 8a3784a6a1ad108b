"""acorn.toml: partners, paths made absolute, ACORN_* overrides, errors that name the setting."""

from __future__ import annotations

import re
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


AS2 = """
[gateway]
database = "sqlite:///acorn.db"

[as2]
as2_id = "ACMEVENDOR"
mdn_url = "https://edi.acme.example/as2/mdn"
[as2.key]
certificate = "keys/acme.pem"
private_key = "keys/acme.key"
passphrase_env = "ACME_AS2_PASSPHRASE"

[[partners]]
name = "amazon"
id = "ZZ:AMAZON"
our_id = "ZZ:ACMEVENDOR"
transport = "as2"
[partners.as2]
as2_id = "AMAZON"
url = "https://as2.amazon.example/as2"
certificates = ["keys/amazon-2025.pem", "keys/amazon-2026.pem"]
mdn = "async"
"""


def test_an_as2_partnership_is_read_with_its_defaults_and_paths_resolved(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, AS2), environ={})
    assert config.as2 is not None and config.as2.body_limit == 50 * 1024 * 1024
    assert config.as2.key.certificate == (tmp_path / "keys/acme.pem").resolve()
    partner = config.partner("amazon")
    assert partner.as2 is not None
    assert partner.as2.certificates == [(tmp_path / "keys/amazon-2025.pem").resolve(),
                                        (tmp_path / "keys/amazon-2026.pem").resolve()]
    assert (partner.as2.signature, partner.as2.encryption) == ("sha256", "aes256-cbc")
    assert partner.as2.require_signature and partner.as2.require_encryption
    assert "md5" not in partner.as2.accepted_digests
    assert config.partner_by_as2("AMAZON", "ACMEVENDOR") is partner
    assert config.partner_by_as2("amazon", "ACMEVENDOR") is None  # AS2 ids are exact
    assert config.partner_by_as2("AMAZON", "SOMEONE") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('mdn_url = "https://edi.acme.example/as2/mdn"\n', ""), "as2.mdn_url is required"),
        (('as2_id = "AMAZON"', 'as2_id = "AMA\\"ZON"'), "partners.0.as2.as2_id"),
        (('mdn = "async"', 'signature = "md5"'), "never sign with md5"),
        (('certificates = ["keys/amazon-2025.pem", "keys/amazon-2026.pem"]',
          'certificates = ["a", "b", "c"]'), "partners.0.as2.certificates"),
        (('passphrase_env = "ACME_AS2_PASSPHRASE"',
          'passphrase_env = "X"\npassphrase_file = "p"'), "not both"),
    ],
)  # fmt: skip
def test_as2_settings_that_cannot_work_are_refused_naming_the_setting(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in AS2
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(_write(tmp_path, AS2.replace(old, new)), environ={})


def test_an_as2_partner_without_our_station_is_refused(tmp_path: Path) -> None:
    start, end = AS2.index("[as2]"), AS2.index("[[partners]]")
    text = AS2[:start] + AS2[end:]
    with pytest.raises(ConfigError, match=re.escape("as2 (our AS2 station) is required")):
        load_config(_write(tmp_path, text), environ={})


def test_two_partners_with_one_as2_id_are_refused(tmp_path: Path) -> None:
    second = AS2.split("[[partners]]")[1].replace('name = "amazon"', 'name = "amazon-ca"')
    with pytest.raises(ConfigError, match="AS2 id 'AMAZON' is used by more than one partner"):
        load_config(_write(tmp_path, AS2 + "[[partners]]" + second), environ={})
