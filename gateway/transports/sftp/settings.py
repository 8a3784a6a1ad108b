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

The models live in :mod:`gateway.config` (their one home: configuration sits below the
transports in the import layers); this module names them for the transport.
"""

from __future__ import annotations

from gateway.config import SftpEndpoint, SftpSettings

__all__ = ["SftpEndpoint", "SftpSettings"]
