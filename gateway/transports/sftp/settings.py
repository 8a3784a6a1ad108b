"""Settings of the SFTP transport, as they appear in ``acorn.toml``::

    [partners.sftp]
    inbox = "/download"                  # remote directory polled for the partner's files
    outbox = "/upload"                   # remote directory our files are published to
    archive = "/download/processed"      # optional: move picked-up files here instead of deleting
    max_file_bytes = 33554432
    [partners.sftp.download]             # the account we poll
    host = "sftp.example.com"
    port = 22
    user = "acme-download"
    private_key = "keys/amazon_ed25519"  # ed25519 or RSA, mode 0600
    passphrase_env = "ACORN_SFTP_PASSPHRASE"   # or passphrase_file
    known_hosts = "keys/amazon_known_hosts"   # pinned, 1 or 2 keys per host (rotation)
    [partners.sftp.upload]               # optional: another account for uploads
    ...

Only pydantic is imported here (no paramiko), so :mod:`gateway.config` can embed these models.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

_STRICT = ConfigDict(extra="forbid", frozen=True)


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
