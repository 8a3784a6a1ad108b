"""The gateway's configuration: ``acorn.toml`` read into pydantic models.

::

    [gateway]
    database = "sqlite:///acorn.db"      # or postgresql+psycopg://user@127.0.0.1:5432/acorn
    erp_inbox = "erp/inbox"              # where purchase orders are written for the ERP
    erp_outbox = "erp/outbox"            # where the ERP drops its exports (watched)
    settle_seconds = 2.0                 # a file younger than this may still be being written
    ack_timeout_hours = 24               # an outbound group without a 997 after this is overdue
    po_ack_due_hours = 24                # a PO without an 855 sent after this is late
    http_host = "127.0.0.1"              # the HTTP server: AS2 endpoints, /healthz
    http_port = 8080

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

    [alerts]                             # optional: see gateway.pipeline.alerts and .notify
    name = "edi-1"                       # how this gateway signs its alerts (default: host)
    [alerts.webhook]                     # a JSON POST per alert and per recovery
    url = "https://hooks.example.com/acorn"
    token_env = "ACORN_WEBHOOK_TOKEN"    # sent as Authorization: Bearer <token>
    [alerts.email]
    host = "smtp.example.com"            # port 587 with STARTTLS unless told otherwise
    sender = "acorn@example.com"
    recipients = ["edi-team@example.com"]
    user = "acorn"
    password_env = "ACORN_SMTP_PASSWORD"

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
from gateway.log import register_secret

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


def read_secret(
    what: str, env: str | None, file: Path | None, environ: dict[str, str] | None = None
) -> str | None:
    """A secret (a key passphrase) from the environment variable ``env`` or the file ``file``
    (its first line, without the line break); None when neither is configured. Raises
    :class:`~gateway.errors.ConfigError` naming ``what`` and the source, never the value."""
    environ = dict(os.environ) if environ is None else environ
    value: str | None = None
    if env:
        value = environ.get(env)
        if value is None:
            raise ConfigError(f"{what}: environment variable {env} is not set")
    elif file:
        try:
            value = Path(file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read {str(file)!r}: {exc.strerror}") from None
    register_secret(value)  # masked in every log line from now on (G6)
    return value


class _SecretSource(BaseModel):
    """Where a passphrase comes from: ``passphrase_env`` or ``passphrase_file``, not both."""

    model_config = _STRICT
    passphrase_env: str | None = None
    passphrase_file: Path | None = None

    @model_validator(mode="after")
    def _one_passphrase_source(self) -> _SecretSource:
        if self.passphrase_env and self.passphrase_file:
            raise ValueError("give passphrase_env or passphrase_file, not both")
        return self


#: AS2 identifiers (RFC 4130 section 6.2): 1 to 128 printable ASCII characters, quoted when
#: they contain blanks; we refuse quotes and backslashes so that a header never needs escaping.
_AS2_ID = r"^[!#-\[\]-~]([ !#-\[\]-~]{0,126}[!#-\[\]-~])?$"

Cipher = Literal["aes128-cbc", "aes192-cbc", "aes256-cbc", "des-ede3-cbc"]
KeyEncryption = Literal["rsa-pkcs1v15", "rsa-oaep", "rsa-oaep-sha256"]
Digest = Literal["sha1", "sha224", "sha256", "sha384", "sha512", "md5"]


class As2Key(_SecretSource):
    """One certificate of ours with its private key (PEM or DER; passphrase from a secret)."""

    certificate: Path
    private_key: Path


class As2Station(BaseModel):
    """Our AS2 station: our AS2 id, our certificate and key (signing our messages and MDNs,
    decrypting what partners send), during a rollover the previous one too (still accepted
    for decryption), the URL partners post asynchronous MDNs to, and the body limit."""

    model_config = _STRICT
    as2_id: str = Field(pattern=_AS2_ID)
    key: As2Key
    previous_key: As2Key | None = None
    #: Our ``/as2/mdn`` URL as partners reach it (Receipt-Delivery-Option on what we send).
    mdn_url: str | None = Field(default=None, pattern=r"^https?://")
    #: Bodies above this are refused with HTTP 413 (reliability.md policy: 50 MB).
    body_limit: int = Field(default=50 * 1024 * 1024, gt=0)
    #: The ``Reporting-UA`` of our MDNs.
    user_agent: str = "acorn-gateway"

    def all_keys(self) -> list[As2Key]:
        """Our keys, current first."""
        return [self.key] + ([self.previous_key] if self.previous_key else [])


class As2Partnership(BaseModel):
    """AS2 with one partner (RFC 4130): its AS2 id and URL, its certificates (two during a
    rollover), how we protect what we send, what we require of what it sends, how MDNs are
    asked for, and how long and how often we try."""

    model_config = _STRICT
    as2_id: str = Field(pattern=_AS2_ID)
    url: str = Field(pattern=r"^https?://")
    certificates: list[Path] = Field(min_length=1, max_length=2)
    #: What we send: signed with ``signature`` (None: unsigned), encrypted with
    #: ``encryption`` (None: in clear), compressed (RFC 5402) when ``compress``.
    signature: Digest | None = "sha256"
    encryption: Cipher | None = "aes256-cbc"
    key_encryption: KeyEncryption = "rsa-pkcs1v15"
    compress: bool = False
    #: The MDN we ask for: ``sync`` (in the HTTP answer), ``async`` (posted to our
    #: ``as2.mdn_url`` later) or ``none``; signed with ``mdn_digest`` when ``mdn_signed``.
    mdn: Literal["sync", "async", "none"] = "sync"
    mdn_signed: bool = True
    mdn_digest: Digest = "sha256"
    #: What the partner must do (Amazon: sign and encrypt; reliability.md T5 c).
    require_signature: bool = True
    require_encryption: bool = True
    #: MIC and signature digests accepted from the partner: md5 only when listed here
    #: (reliability.md policy), sha1 for old partners.
    accepted_digests: list[Digest] = Field(
        default_factory=lambda: ["sha1", "sha224", "sha256", "sha384", "sha512"], min_length=1
    )
    content_type: str = "application/edi-x12"
    connect_timeout: float = Field(default=30.0, gt=0)
    read_timeout: float = Field(default=300.0, gt=0)
    #: Tries of a send (the same Message-ID and bytes each time) before it fails with an alert.
    max_attempts: int = Field(default=6, ge=1)
    #: Minutes to wait for an asynchronous MDN before sending again.
    async_mdn_wait_minutes: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _mdn_digest_allowed(self) -> As2Partnership:
        if self.signature == "md5":
            raise ValueError("signature: we never sign with md5 (reliability.md policy)")
        return self


class SftpEndpoint(_SecretSource):
    """One SFTP account: where it is, who we are, and the host key(s) we trust."""

    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(min_length=1)
    #: The client key (preferred); or a password from ``password_env``/``password_file``.
    private_key: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None
    known_hosts: Path

    @model_validator(mode="after")
    def _a_credential(self) -> SftpEndpoint:
        if self.private_key is None and not (self.password_env or self.password_file):
            raise ValueError("give private_key, or password_env / password_file")
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
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
                "password_file": fix(e.password_file),
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
    transport: Literal["folder", "sftp", "as2"] = "folder"
    #: How often ``acorn run`` polls the partner's folder or SFTP inbox (seconds).
    poll_seconds: float = Field(default=60, gt=0)
    folder: FolderSettings | None = None
    sftp: SftpSettings | None = None
    as2: As2Partnership | None = None

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
    #: Where the HTTP server (AS2 endpoints, health) listens.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    #: Tries of a send over the folder or SFTP transport before it fails with an alert (AS2
    #: has its own ``max_attempts`` per partnership).
    max_send_attempts: int = Field(default=10, ge=1)
    #: Raw bytes, MDNs and evidence are kept this long, then purged (reliability.md policy).
    retention_days: float = Field(default=400, gt=0)
    #: The validation engine of every input and output: ``fast`` (the maps compiled into
    #: tables, gateway.validation.compiled) or ``pyx12`` (the reference, far slower; the
    #: two agree, tests/validation/test_compiled_differential.py).
    validation_engine: Literal["fast", "pyx12"] = "fast"


class ScheduleSettings(BaseModel):
    """How often ``acorn run`` does each job, in seconds (the SFTP poll per partner is the
    partner's ``poll_seconds``)."""

    model_config = _STRICT
    process_seconds: float = Field(default=5, gt=0)
    outbox_seconds: float = Field(default=5, gt=0)
    send_seconds: float = Field(default=5, gt=0)
    clocks_seconds: float = Field(default=60, gt=0)
    certificates_seconds: float = Field(default=3600, gt=0)
    purge_seconds: float = Field(default=86400, gt=0)
    notify_seconds: float = Field(default=15, gt=0)
    #: How long a stopping daemon waits for running jobs before it releases their leases.
    stop_deadline_seconds: float = Field(default=8, gt=0)


class WebhookSettings(BaseModel):
    """A webhook alerts are POSTed to as JSON, with ``Authorization: Bearer <token>`` when a
    token is configured (from ``token_env`` or ``token_file``, never written in the file)."""

    model_config = _STRICT
    url: str = Field(pattern=r"^https?://")
    token_env: str | None = None
    token_file: Path | None = None
    timeout_seconds: float = Field(default=10, gt=0)


class EmailSettings(BaseModel):
    """Alerts by email over SMTP (STARTTLS unless ``starttls = false``; SMTPS with
    ``ssl = true``); the password from ``password_env`` or ``password_file``."""

    model_config = _STRICT
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(min_length=3)
    recipients: list[str] = Field(min_length=1)
    user: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    starttls: bool = True
    ssl: bool = False
    timeout_seconds: float = Field(default=15, gt=0)


class OperatorAccount(BaseModel):
    """One operator of the dashboard and the API: a name, a role and (unless a trusted
    reverse proxy authenticates them) a password hash made by ``acorn operator hash``."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    role: Literal["read", "admin"] = "read"
    password_hash: str | None = Field(default=None, pattern=r"^scrypt\$")


class WebSettings(BaseModel):
    """Who may use the dashboard and the API (everything but /healthz, /readyz and the AS2
    endpoints needs an operator): the operators, how long a session lasts, the key that
    signs session cookies (from ``secret_key_env``/``secret_key_file``; without one, a
    random key per process: sessions end at a restart), and optionally a reverse proxy
    trusted to name the user in ``trusted_user_header`` (only from ``trusted_proxies``)."""

    model_config = _STRICT
    operators: list[OperatorAccount] = Field(default_factory=list)
    session_minutes: float = Field(default=480, gt=0)
    secret_key_env: str | None = None
    secret_key_file: Path | None = None
    trusted_user_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    #: Mark session cookies Secure (set when the dashboard is served over HTTPS).
    secure_cookies: bool = False

    def operator(self, name: str) -> OperatorAccount | None:
        """The operator called ``name``, if any."""
        return next((o for o in self.operators if o.name == name), None)


class AlertSettings(BaseModel):
    """Where alerts go and when conditions become alerts."""

    model_config = _STRICT
    #: How this gateway names itself in its alerts (default: the host name).
    name: str | None = Field(default=None, min_length=1, max_length=100)
    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None
    #: A transport failing for longer than this raises ``transport_down``.
    transport_down_minutes: float = Field(default=15, gt=0)
    #: A certificate ending within these many days raises ``certificate_expiring``.
    certificate_warning_days: list[int] = Field(default_factory=lambda: [30, 14, 7],
                                                min_length=1)  # fmt: skip


class Config(BaseModel):
    """The whole configuration."""

    model_config = _STRICT
    gateway: GatewaySettings = GatewaySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    alerts: AlertSettings = AlertSettings()
    web: WebSettings = WebSettings()
    as2: As2Station | None = None
    partners: list[Partner] = Field(min_length=1)

    def partner(self, name: str) -> Partner:
        """The partner called ``name`` (ConfigError when there is none)."""
        for partner in self.partners:
            if partner.name == name:
                return partner
        raise ConfigError(f"partners: no partner named {name!r}")

    def partner_by_as2(self, as2_from: str, as2_to: str) -> Partner | None:
        """The AS2 partner sending as ``as2_from`` to our ``as2_to``, if that pair is
        configured (RFC 4130 section 6.2: AS2 ids compare exactly, case included)."""
        if self.as2 is None or as2_to != self.as2.as2_id:
            return None
        for partner in self.partners:
            if partner.as2 is not None and partner.transport == "as2" \
                    and partner.as2.as2_id == as2_from:
                return partner
        return None

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
        if partner.as2 is not None:
            certificates = [fix(path) for path in partner.as2.certificates]
            partner = partner.model_copy(
                update={"as2": partner.as2.model_copy(update={"certificates": certificates})}
            )
        partners.append(partner)
    web = config.web
    if web.secret_key_file is not None:
        web = web.model_copy(update={"secret_key_file": fix(web.secret_key_file)})
    station = config.as2
    if station is not None:

        def key(k: As2Key | None) -> As2Key | None:
            if k is None:
                return None
            file = fix(k.passphrase_file) if k.passphrase_file else None
            return k.model_copy(update={"certificate": fix(k.certificate),
                                        "private_key": fix(k.private_key),
                                        "passphrase_file": file})  # fmt: skip

        station = station.model_copy(
            update={"key": key(station.key), "previous_key": key(station.previous_key)}
        )
    alerts = config.alerts
    webhook, email = alerts.webhook, alerts.email
    if webhook is not None and webhook.token_file is not None:
        webhook = webhook.model_copy(update={"token_file": fix(webhook.token_file)})
    if email is not None and email.password_file is not None:
        email = email.model_copy(update={"password_file": fix(email.password_file)})
    alerts = alerts.model_copy(update={"webhook": webhook, "email": email})
    return config.model_copy(update={"gateway": gateway, "partners": partners, "as2": station,
                                     "alerts": alerts})  # fmt: skip


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
        problems = [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        error = ConfigError(f"{path}: {'; '.join(problems)}")
        error.problems = problems
        raise error from exc
    for partner in config.partners:
        if partner.transport == "folder" and partner.folder is None:
            raise ConfigError(f"{path}: partners.{partner.name}.folder is required")
        if partner.transport == "sftp" and partner.sftp is None:
            raise ConfigError(f"{path}: partners.{partner.name}.sftp is required")
        if partner.transport == "as2" and partner.as2 is None:
            raise ConfigError(f"{path}: partners.{partner.name}.as2 is required")
        if partner.transport == "as2" and config.as2 is None:
            raise ConfigError(f"{path}: as2 (our AS2 station) is required by partner "
                              f"{partner.name}")  # fmt: skip
        if partner.as2 is not None and partner.as2.mdn == "async" and (
            config.as2 is None or config.as2.mdn_url is None
        ):
            raise ConfigError(f"{path}: partners.{partner.name}.as2.mdn is async: "
                              "as2.mdn_url is required")  # fmt: skip
    pairs = [p.as2.as2_id for p in config.partners if p.as2 is not None and p.transport == "as2"]
    for as2_id in {a for a in pairs if pairs.count(a) > 1}:
        raise ConfigError(f"{path}: partners: AS2 id {as2_id!r} is used by more than one partner")
    return _absolute(config, path.resolve().parent)
