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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    transport: Literal["folder"] = "folder"
    folder: FolderSettings | None = None

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
    return _absolute(config, path.resolve().parent)
