"""The SFTP transport (paramiko; the only importer of paramiko, design.md).

:mod:`gateway.transports.sftp.settings` holds the pydantic settings and imports nothing but
pydantic, so configuration code can use it without loading paramiko;
:mod:`gateway.transports.sftp.transport` the :class:`SftpTransport` itself. ``SftpTransport``
is imported lazily from here for the same reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.transports.sftp.settings import SftpEndpoint, SftpSettings

if TYPE_CHECKING:
    from gateway.transports.sftp.transport import SftpTransport

__all__ = ["SftpEndpoint", "SftpSettings", "SftpTransport"]


def __getattr__(name: str) -> Any:
    if name == "SftpTransport":
        from gateway.transports.sftp.transport import SftpTransport

        return SftpTransport
    raise AttributeError(name)
