"""Transports: bytes in, bytes out, nothing of X12 (design.md).

:mod:`gateway.transports.base` is the seam (:class:`Transport`, :class:`Outgoing`,
:class:`Incoming`, :class:`Receipt`); :mod:`gateway.transports.files` the safe file primitives
(also used by the pipeline for the ERP inbox and outbox); :mod:`gateway.transports.folder` the
folder transport. SFTP and AS2 live in their own sub-packages.
"""

from gateway.transports.base import Incoming, Outgoing, Receipt, Transport
from gateway.transports.files import (
    claim_file,
    contained,
    derive_safe_name,
    ensure_dir,
    move_file,
    publish_file,
    read_file,
    remove_file,
    resolve_root,
    safe_name,
    sha256_of,
    stable_files,
    stage_file,
    staged_path,
    write_atomic,
)
from gateway.transports.folder import FolderTransport

__all__ = [
    "FolderTransport",
    "Incoming",
    "Outgoing",
    "Receipt",
    "Transport",
    "claim_file",
    "contained",
    "derive_safe_name",
    "ensure_dir",
    "move_file",
    "publish_file",
    "read_file",
    "remove_file",
    "resolve_root",
    "safe_name",
    "sha256_of",
    "stable_files",
    "stage_file",
    "staged_path",
    "write_atomic",
]
