"""The folder transport: the trading partner is two local directories.

``outgoing_dir`` is where the partner picks our files up, ``incoming_dir`` where it drops its
files for us. It stands in for Amazon in the tests and the demo, and is a real option for
suppliers whose VAN client drops and collects files locally.

Sending follows the storage rule through :mod:`gateway.transports.files`: :meth:`stage` writes
``outgoing_dir/.<name>.part`` (hidden, fsync'd) and :meth:`publish` renames it to ``<name>`` and
fsyncs the directory, so the partner sees a complete file or nothing, and a publish repeated
after a crash finds nothing staged and delivers nothing twice (G2). Receiving lists settled
regular files only (never ``*.part``/``*.tmp``/hidden names or symlinks, T6), and :meth:`remove`
deletes a file only while it still holds the bytes the caller committed (G1).

The object holds no state beyond its configuration: a new one (a new process after kill -9)
continues where an old one stopped.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.errors import UnsafePathError
from gateway.transports.base import Incoming, Outgoing, Receipt
from gateway.transports.files import (
    publish_file,
    read_file,
    remove_file,
    resolve_root,
    stable_files,
    stage_file,
    staged_path,
)


class FolderTransport:
    """A :class:`gateway.transports.base.Transport` over two local directories.

    ``settle_seconds``: a file modified more recently than this is taken as still being
    written and left for a later poll. The directories must exist (a missing one raises
    :class:`gateway.errors.TransportError` naming it).
    """

    def __init__(
        self,
        name: str,
        outgoing_dir: str | os.PathLike[str],
        incoming_dir: str | os.PathLike[str],
        settle_seconds: float = 2.0,
    ) -> None:
        if settle_seconds < 0:
            raise ValueError(f"settle_seconds must be >= 0, not {settle_seconds}")
        self.name = name
        self.outgoing_dir = Path(outgoing_dir)
        self.incoming_dir = Path(incoming_dir)
        self.settle_seconds = settle_seconds

    def __repr__(self) -> str:
        return (
            f"FolderTransport({self.name!r}, outgoing={str(self.outgoing_dir)!r}, "
            f"incoming={str(self.incoming_dir)!r})"
        )

    def stage(self, item: Outgoing) -> None:
        """Write ``item`` to ``outgoing_dir/.<name>.part``, fsync'd; staging again overwrites.
        The name must pass ``safe_name`` (:class:`gateway.errors.UnsafeNameError`, T6)."""
        stage_file(self.outgoing_dir, item.name, item.data)

    def publish(self, name: str) -> Receipt | None:
        """Rename the staged file to ``outgoing_dir/<name>`` (directory fsync'd). None when
        nothing is staged, i.e. already published (G2); a different existing ``<name>`` raises
        :class:`gateway.errors.FileConflictError` and is not overwritten."""
        staged = staged_path(self.outgoing_dir, name)
        try:
            size = staged.lstat().st_size
        except FileNotFoundError:
            return None
        except OSError:
            size = None
        if not publish_file(self.outgoing_dir, name):
            return None
        final = resolve_root(self.outgoing_dir) / name
        detail = {"directory": str(final.parent), "name": name}
        if size is not None:
            detail["size"] = str(size)
        return Receipt(transport=self.name, reference=str(final), detail=detail)

    def poll(self) -> list[Incoming]:
        """Every settled regular file of ``incoming_dir``, read whole, sorted by name;
        ``reference`` is its path. A file that vanishes or turns into a symlink between the
        listing and the read is skipped (the next poll sees the truth)."""
        received: list[Incoming] = []
        for path in stable_files(self.incoming_dir, self.settle_seconds):
            try:
                data = read_file(path)
            except (FileNotFoundError, UnsafePathError):
                continue
            received.append(Incoming.of(path.name, data, str(path)))
        return received

    def remove(self, item: Incoming) -> None:
        """Delete the polled file after the caller committed it (G1). Idempotent: a file already
        gone is fine. A file replaced since the poll (other bytes under the same name) is new
        input and stays for the next poll. ``item.reference`` must lie in ``incoming_dir``
        (:class:`gateway.errors.UnsafePathError` otherwise, T6)."""
        reference = Path(item.reference)
        root = resolve_root(self.incoming_dir)
        if resolve_root(reference.parent) != root:
            raise UnsafePathError(reference, f"is not in the incoming folder {str(root)!r}")
        remove_file(reference, expected_sha256=item.sha256)
