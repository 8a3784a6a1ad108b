"""The gateway's configuration: ``acorn.toml`` read into pydantic models.

::

    [gateway]
    database = "sqlite:///acorn.db"      # or postgresql+psycopg://user@127.0.0.1:5432/acorn
    erp_inbox = "erp/inbox"              # where purchase orders are written for the ERP
    erp_outbox = "erp/outbox"            # where the ERP drops its exports (watched)
    settle_seconds = 2.0                 # a file younger than this may still be being written
    ack_timeout_hours = 24               # an outbound group without a 997 after this is overdue
    po_ack_due_hours = 24                # a PO without an 855 sent after this is late

    [[partners]]
    name = "amazon"
    id = "ZZ:AMAZON"                     # the partner's ISA05:ISA06
    our_id = "ZZ:ACMEVENDOR"             # ours (ISA07:ISA08 on what they send)
    usage = "P"                          # ISA15 we send: P production, T test
    ship_notice_release = "004010"       # or "005010" for the 856
    transport = "folder"
    [partners.folder]
    incoming = "partner/to-us"           # polled for the partner's files
    outgoing = "partner/from-us"         # where files for the partner are published

Relative paths are taken from the directory of the configuration file. Any setting of
``[gateway]`` can be overridden by an environment variable ``ACORN_<NAME>`` (e.g.
``ACORN_DATABASE``). Problems are reported with the setting's path, never a traceback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import ConfigError

_STRICT = ConfigDict(extra="forbid", frozen=True)


class PartyId(BaseModel):
    """An interchange party as ``QUALIFIER:ID`` (ISA05:ISA06)."""

    model_config = _STRICT
    qualifier: str = Field(pattern=r"^[0-9A-Z]{2}$")
    id: str = Field(min_length=1, max_length=15, pattern=r"^[A-Za-z0-9 .\-_]+$")

    @classmethod
    def parse(cls, text: str) -> PartyId:
        """``ZZ:AMAZON`` -> PartyId."""
        qualifier, _, identifier = text.partition(":")
        return cls(qualifier=qualifier, id=identifier)

    def __str__(self) -> str:
        return f"{self.qualifier}:{self.id}"


class SftpEndpoint(BaseModel):
    """One SFTP account: where it is, who we are, and the host key(s) we trust."""

    model_config = _STRICT
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(min_length=1)
    private_key: Path
    passphrase_env: str | None = None
    passphrase_file: Path | None = None
    known_hosts: Path

    @model_validator(mode="after")
    def _one_passphrase_source(self) -> SftpEndpoint:
        if self.passphrase_env and self.passphrase_file:
            raise ValueError("give passphrase_env or passphrase_file, not both")
        return self


class SftpSettings(BaseModel):
    """The SFTP transport of one partner: a download account (polled) and optionally a
    separate upload account, remote directories, timeouts (seconds) and limits."""

    model_config = _STRICT
    download: SftpEndpoint
    upload: SftpEndpoint | None = None
    inbox: str = Field(min_length=1)
    outbox: str = Field(min_length=1)
    archive: str | None = None
    connect_timeout: float = Field(default=15.0, gt=0)
    banner_timeout: float = Field(default=15.0, gt=0)
    auth_timeout: float = Field(default=15.0, gt=0)
    channel_timeout: float = Field(default=30.0, gt=0)
    settle_seconds: float = Field(default=2.0, ge=0)
    max_file_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    require_strict_kex: bool = True

    @property
    def upload_endpoint(self) -> SftpEndpoint:
        return self.upload or self.download

    def with_base(self, base: Path) -> SftpSettings:
        """Local paths (keys, known_hosts) made absolute against ``base``."""

        def fix(path: Path | None) -> Path | None:
            return path if path is None or path.is_absolute() else (base / path).resolve()

        def endpoint(e: SftpEndpoint | None) -> SftpEndpoint | None:
            if e is None:
                return None
            return e.model_copy(update={
                "private_key": fix(e.private_key), "known_hosts": fix(e.known_hosts),
                "passphrase_file": fix(e.passphrase_file),
            })  # fmt: skip

        return self.model_copy(
            update={"download": endpoint(self.download), "upload": endpoint(self.upload)}
        )


class FolderSettings(BaseModel):
    """The folder transport: two local directories standing in for the partner."""

    model_config = _STRICT
    incoming: Path
    outgoing: Path


class Partner(BaseModel):
    """A trading partner and how files travel to and from it."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    id: PartyId
    our_id: PartyId
    usage: Literal["P", "T"] = "P"
    ship_notice_release: Literal["004010", "005010"] = "004010"
    #: Name of each file sent: ``{our_id}`` (ISA06 of ours), ``{partner}``, ``{set}``
    #: (855, 997...), ``{isa13}``, ``{time}`` (UTC, CCYYMMDDHHMMSS). Must contain
    #: ``{isa13}`` so that names are unique (Amazon's SFTP asks for unique names).
    file_name_pattern: str = Field(default="{our_id}_{set}_{isa13}.edi",
                                   pattern=r"\{isa13\}")  # fmt: skip
    transport: Literal["folder", "sftp"] = "folder"
    folder: FolderSettings | None = None
    sftp: SftpSettings | None = None

    @field_validator("file_name_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            sample = value.format(our_id="ACME", partner="p", set="855", isa13="000000001",
                                  time="20260101120000")  # fmt: skip
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"unknown placeholder or bad braces: {exc}") from None
        if "/" in sample or "\\" in sample or sample.startswith("."):
            raise ValueError("a file name, not a path (no '/', no leading '.')")
        return value

    @field_validator("id", "our_id", mode="before")
    @classmethod
    def _party(cls, value: Any) -> Any:
        return PartyId.parse(value) if isinstance(value, str) else value


class GatewaySettings(BaseModel):
    """Where the gateway keeps its data and how long it waits."""

    model_config = _STRICT
    database: str = "sqlite:///acorn.db"
    erp_inbox: Path = Path("erp/inbox")
    erp_outbox: Path = Path("erp/outbox")
    settle_seconds: float = Field(default=2.0, ge=0)
    ack_timeout_hours: float = Field(default=24, gt=0)
    po_ack_due_hours: float = Field(default=24, gt=0)
    lease_seconds: float = Field(default=300, gt=0)


class Config(BaseModel):
    """The whole configuration."""

    model_config = _STRICT
    gateway: GatewaySettings = GatewaySettings()
    partners: list[Partner] = Field(min_length=1)

    def partner(self, name: str) -> Partner:
        """The partner called ``name`` (ConfigError when there is none)."""
        for partner in self.partners:
            if partner.name == name:
                return partner
        raise ConfigError(f"partners: no partner named {name!r}")

    def partner_by_id(self, party: str) -> Partner | None:
        """The partner whose ``id`` is ``QUALIFIER:ID`` (ISA05:ISA06 as sent), if any."""
        for partner in self.partners:
            if str(partner.id) == party:
                return partner
        return None


def _absolute(config: Config, base: Path) -> Config:
    """Relative paths made absolute against the configuration file's directory."""

    def fix(path: Path) -> Path:
        return path if path.is_absolute() else (base / path).resolve()

    gateway = config.gateway.model_copy(
        update={"erp_inbox": fix(config.gateway.erp_inbox),
                "erp_outbox": fix(config.gateway.erp_outbox)}
    )  # fmt: skip
    database = gateway.database
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        relative = database.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            gateway = gateway.model_copy(update={"database": f"sqlite:///{fix(Path(relative))}"})
    partners = []
    for partner in config.partners:
        if partner.folder is not None:
            folder = FolderSettings(
                incoming=fix(partner.folder.incoming), outgoing=fix(partner.folder.outgoing)
            )
            partner = partner.model_copy(update={"folder": folder})
        if partner.sftp is not None:
            partner = partner.model_copy(update={"sftp": partner.sftp.with_base(base)})
        partners.append(partner)
    return config.model_copy(update={"gateway": gateway, "partners": partners})


def load_config(path: Path | str, environ: dict[str, str] | None = None) -> Config:
    """Read ``path`` (TOML), apply ``ACORN_*`` overrides, resolve relative paths.

    Raises :class:`~gateway.errors.ConfigError` naming the file and the setting.
    """
    path = Path(path)
    environ = dict(os.environ if environ is None else environ)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    gateway = dict(data.get("gateway", {}))
    for field in GatewaySettings.model_fields:
        value = environ.get(f"ACORN_{field.upper()}")
        if value is not None:
            gateway[field] = value
    data["gateway"] = gateway
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc
    for partner in config.partners:
        if partner.transport == "folder" and partner.folder is None:
            raise ConfigError(f"{path}: partners.{partner.name}.folder is required")
        if partner.transport == "sftp" and partner.sftp is None:
            raise ConfigError(f"{path}: partners.{partner.name}.sftp is required")
    return _absolute(config, path.resolve().parent)
