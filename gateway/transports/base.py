"""The transport seam: bytes in, bytes out. A transport knows nothing of X12.

Every transport (folder, SFTP, AS2) offers the same four operations, shaped so that the pipeline
can keep the promises of reliability.md across a kill -9 at any point:

* **Sending is two steps**, :meth:`Transport.stage` then :meth:`Transport.publish`. Staging makes
  the bytes ready under a temporary name the partner cannot see and may be repeated;
  publishing makes them visible atomically and answers ``None`` when there is nothing staged
  any more, i.e. when an earlier publish already delivered them. The pipeline's recovery is
  therefore: if the row is not yet marked *staged*, stage (again); once it is marked *staged*,
  only ever call publish, and a ``None`` means "already delivered, mark it sent" (G2). Staging
  again after a publish could deliver twice, so a caller never does that.
* **Receiving is poll, commit, remove.** :meth:`Transport.poll` returns complete files only;
  the caller commits the bytes to the store (fsync'd file and committed row) and only then calls
  :meth:`Transport.remove` (G1: the partner's copy is deleted after ours is durable). A crash
  between commit and remove makes the same file come back on the next poll; the store's
  UNIQUE(partner, name, size, sha256) turns that into a remove without reprocessing (G2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Outgoing:
    """One document to send: ``name`` is the unique file name the pipeline chose (it must pass
    :func:`gateway.transports.files.safe_name`), ``data`` the exact bytes, ``metadata``
    transport hints (e.g. an AS2 subject or content type). ``data`` is kept out of ``repr`` so a
    payload never reaches a log line (G6)."""

    name: str
    data: bytes = field(repr=False)
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _frozen_map(self.metadata))


@dataclass(frozen=True)
class Receipt:
    """Proof that a publish happened: which ``transport``, a ``reference`` the partner side can
    be matched by (final path, remote name, AS2 Message-ID) and transport ``detail``."""

    transport: str
    reference: str
    detail: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", _frozen_map(self.detail))


@dataclass(frozen=True)
class Incoming:
    """One complete file received: its ``name`` as the partner gave it (not yet checked by
    ``safe_name``: pass it through that before using it in any path), the exact ``data``, its
    ``sha256`` (hex) and ``size``, and ``reference``, where it came from (e.g. the path), which
    :meth:`Transport.remove` uses."""

    name: str
    data: bytes = field(repr=False)
    sha256: str
    size: int
    reference: str

    def __post_init__(self) -> None:
        if self.size != len(self.data):
            raise ValueError(f"Incoming {self.name!r}: size {self.size} != len(data)")

    @classmethod
    def of(cls, name: str, data: bytes, reference: str) -> Incoming:
        """Build an Incoming, computing ``sha256`` and ``size`` from ``data``."""
        return cls(name, data, hashlib.sha256(data).hexdigest(), len(data), reference)


@runtime_checkable
class Transport(Protocol):
    """A way to exchange files with one trading partner. Implementations must be safe to
    re-create after a crash: all state that matters is on disk or at the partner, never only in
    the object (a "new process" calling :meth:`publish` must finish what an old one staged)."""

    name: str

    def stage(self, item: Outgoing) -> None:
        """Make ``item.data`` ready under a temporary name the partner does not see. Idempotent:
        staging the same name again overwrites the staged bytes."""
        ...

    def publish(self, name: str) -> Receipt | None:
        """Make the staged file ``name`` visible to the partner atomically, complete or not at
        all. Returns ``None`` when nothing is staged under that name, i.e. it was already
        published: after a crash between publish and recording it, calling publish again never
        delivers twice (G2). Raises :class:`gateway.errors.TransportError` on failure, and
        :class:`gateway.errors.FileConflictError` rather than overwrite a different file."""
        ...

    def poll(self) -> list[Incoming]:
        """Complete files waiting for us, sorted by name: never temporary names (``*.part``,
        ``*.tmp``, hidden files), never a file still being written (modified within the
        transport's settle time), never a symlink (T6). Polling does not remove anything."""
        ...

    def remove(self, item: Incoming) -> None:
        """Delete ``item`` at the source, only after the caller committed it (G1). A file that
        is already gone is fine (idempotent)."""
        ...
