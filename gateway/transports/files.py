"""Safe file primitives: the folder transport and the pipeline's ERP inbox/outbox use these only.

The rules they implement (reliability.md):

* **Storage rule**: a file becomes visible complete or not at all: write a temporary name in the
  same directory, fsync it, rename it (atomic within one filesystem), fsync the directory so the
  rename itself survives a power cut.
* **G1 no loss**: nothing is ever overwritten or deleted unless it is known to be the same
  content; a different file under the target name raises :class:`FileConflictError`.
* **G2 no double effect**: publishing is a rename, so once the staged file is gone it has been
  published, and publishing again answers ``False`` instead of delivering twice.
* **T6 path traversal**: every name written passes :func:`safe_name`; every operation works on
  an open directory descriptor (``dir_fd``), so a written path is always ``<root>/<name>`` with
  ``<root>`` resolved (realpath) once; files are opened with ``O_NOFOLLOW`` and a symlink found in
  a watched folder is never followed, returned, read or moved.

Hidden names (a leading dot) are this module's temporary files: ``.<name>.tmp`` for
:func:`write_atomic` and the ``.<name>.part`` staged by :func:`stage_file`. Watchers
(:func:`stable_files`) skip them, and :func:`safe_name` refuses them as final names.

Failures raise :class:`gateway.errors.TransportError` (or one of its subclasses) naming the path,
chained to the ``OSError``. The one exception is :func:`read_file`, which lets
``FileNotFoundError`` through, as ``open`` does, so a caller can skip a file that just vanished.

Crash points (``gateway.crashpoints``, for the T3 kill -9 tests): ``files.mid_write`` (half of
the bytes written to a temporary or staged file), ``files.before_replace`` (temporary file
fsync'd, not renamed), ``files.after_replace`` (renamed, directory not fsync'd),
``files.after_claim`` (claimed into the processing directory, directories not fsync'd).

Standard library only (``ctypes`` reaches ``renameat2`` on Linux).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import stat
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.crashpoints import crashpoint
from gateway.errors import FileConflictError, TransportError, UnsafeNameError, UnsafePathError

MAX_NAME_CHARS = 200
# NAME_MAX is 255 bytes on Linux filesystems; the longest name we derive is ".<name>.part".
MAX_NAME_BYTES = 240
TEMP_SUFFIX = ".tmp"
PART_SUFFIX = ".part"
RESERVED_SUFFIXES = (TEMP_SUFFIX, PART_SUFFIX)

FILE_MODE = 0o640
DIR_MODE = 0o750

# Unicode categories refused in names: controls (NUL, CR, LF, ESC, C1), format characters (bidi
# overrides that make a name display as another), lone surrogates (undecodable bytes under
# surrogateescape) and the line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted under the name fails (ENXIO) or returns at once instead
# of blocking a worker; it changes nothing for regular files.
_O_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


# --- names and roots --------------------------------------------------------------------------


def safe_name(name: str) -> str:
    """Return ``name`` unchanged if it is safe as one file name inside a root, else raise
    :class:`UnsafeNameError` naming the value and the reason (T6).

    Refused: non-strings; the empty name; more than 200 characters or 240 UTF-8 bytes; a
    leading dot (``.``, ``..`` and hidden names, which are our temporary files); ``/`` or
    ``\\``; control, format and separator characters (NUL, CR, LF, bidi overrides...) and
    undecodable bytes; the suffixes ``.part`` and ``.tmp``, which every watcher skips as
    incomplete (a final file so named would never be picked up).
    """
    if not isinstance(name, str):
        raise UnsafeNameError(name, "not a string")
    if not name:
        raise UnsafeNameError(name, "empty")
    if len(name) > MAX_NAME_CHARS:
        raise UnsafeNameError(name, f"longer than {MAX_NAME_CHARS} characters ({len(name)})")
    if name in (".", ".."):
        raise UnsafeNameError(name, "a directory reference")
    if "/" in name or "\\" in name:
        raise UnsafeNameError(name, "contains a path separator")
    for ch in name:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise UnsafeNameError(name, f"contains the control character U+{ord(ch):04X}")
    if name.startswith("."):
        raise UnsafeNameError(name, "starts with '.' (hidden names are temporary files)")
    if name.endswith(RESERVED_SUFFIXES):
        raise UnsafeNameError(name, "ends with .part or .tmp (watchers skip those as incomplete)")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafeNameError(name, f"longer than {MAX_NAME_BYTES} bytes in UTF-8")
    return name


#: What a derived name keeps of the original: ASCII letters, digits, ``-`` and ``_``.
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_SIMPLE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}$")


def derive_safe_name(name: str) -> str:
    """``name`` itself when :func:`safe_name` accepts it; otherwise a safe name derived from
    it, the same every time (so a retry after a crash stages and publishes the same file).

    For names built from partner data, such as the ERP file of a purchase order named after
    its PO number (BEG03 may hold ``/``, ``..``, ``\\``: valid X12, hostile as a path, T6):
    the order must still reach the ERP, under a name that cannot leave the folder. A derived
    name keeps the ASCII letters, digits, ``-`` and ``_`` of the original (every other run of
    characters becomes one ``_``, at most 100 kept), then ``-`` and the first 12 hex digits of
    the SHA-256 of the original (so two different originals never share a derived name), then
    the original's suffix when it is a plain one such as ``.json``: ``amazon-../../x.json``
    becomes ``amazon-_x-<12 hex>.json``.
    """
    try:
        return safe_name(name)
    except UnsafeNameError:
        pass
    text = name if isinstance(name, str) else repr(name)
    match = _SIMPLE_SUFFIX.search(text)
    suffix = match.group(0) if match and match.group(0) not in RESERVED_SUFFIXES else ""
    stem = text[: len(text) - len(suffix)]
    kept = _UNSAFE_RUN.sub("_", stem).strip("_")[:100] or "file"
    digest = sha256_of(text.encode("utf-8", "surrogatepass"))[:12]
    return safe_name(f"{kept}-{digest}{suffix}")


def resolve_root(directory: str | os.PathLike[str]) -> Path:
    """The real path of ``directory`` (symlinks in the configured path resolved once); every
    path written by this module is ``<that>/<safe name>``."""
    return Path(os.path.realpath(directory))


def contained(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Resolve ``path`` (following symlinks) and return it if it lies under the resolved
    ``root``; else raise :class:`UnsafePathError` (T6: resolve and compare)."""
    real_root = resolve_root(root)
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root):
        raise UnsafePathError(path, f"resolves to {str(real)!r}, outside {str(real_root)!r}")
    return real


def staged_path(directory: str | os.PathLike[str], name: str) -> Path:
    """Where :func:`stage_file` keeps ``name`` until :func:`publish_file`."""
    return resolve_root(directory) / _part(safe_name(name))


def sha256_of(data: bytes) -> str:
    """The SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def _tmp(name: str) -> str:
    return f".{name}{TEMP_SUFFIX}"


def _part(name: str) -> str:
    return f".{name}{PART_SUFFIX}"


def _failed(action: str, path: object, exc: OSError) -> TransportError:
    if exc.errno == errno.ELOOP:
        return UnsafePathError(path, "is a symlink; refused (O_NOFOLLOW)")
    return TransportError(f"{action} {str(path)!r}: {exc.strerror or exc}")


# --- descriptors ------------------------------------------------------------------------------


@contextmanager
def _open_dir(directory: Path) -> Iterator[int]:
    try:
        fd = os.open(directory, _O_DIR)
    except OSError as exc:
        raise _failed("cannot open directory", directory, exc) from exc
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def _open_subdir(
    root_fd: int, root: Path, given_root: str | os.PathLike[str], sub: str | os.PathLike[str]
) -> Iterator[tuple[int, Path]]:
    """Open (creating if needed) a directory for claims. A relative ``sub``, or an absolute one
    that lies lexically under the root (as resolved or as given), is walked from ``root_fd`` one
    component at a time with ``O_NOFOLLOW``, so a symlink planted in a watched folder is refused
    (T6). An absolute path elsewhere is trusted configuration and opened as given."""
    sub_path = Path(sub)
    rel: Path | None = sub_path
    if sub_path.is_absolute():
        rel = None
        absolute = Path(os.path.abspath(sub_path))
        for base in (root, Path(os.path.abspath(given_root))):
            if absolute.is_relative_to(base):
                rel = absolute.relative_to(base)
                break
    if rel is None:
        real = ensure_dir(sub_path)
        with _open_dir(real) as fd:
            yield fd, real
        return
    fd = os.dup(root_fd)
    where = root
    try:
        for part in rel.parts:
            if part in ("", ".", ".."):
                raise UnsafePathError(sub_path, "must name a directory below the root")
            where = where / part
            try:
                os.mkdir(part, DIR_MODE, dir_fd=fd)
                os.fsync(fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise _failed("cannot create directory", where, exc) from exc
            try:
                child = os.open(part, _O_DIR | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePathError(where, "is a symlink or not a directory") from exc
                raise _failed("cannot open directory", where, exc) from exc
            os.close(fd)
            fd = child
        yield fd, where
    finally:
        os.close(fd)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def _write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` in two halves, with the ``files.mid_write`` crash point between
    them (T3 C5/W1: a half-written temporary file must never become visible)."""
    view = memoryview(data)
    half = len(view) // 2
    _write_all(fd, view[:half])
    crashpoint("files.mid_write")
    _write_all(fd, view[half:])


def _write_new(dir_fd: int, name: str, data: bytes, where: Path) -> None:
    """Create or truncate ``name`` (never through a symlink), write ``data``, fsync, close."""
    try:
        fd = os.open(name, _O_WRITE, FILE_MODE, dir_fd=dir_fd)
    except OSError as exc:
        raise _failed("cannot create", where, exc) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePathError(where, "is not a regular file")
        _write_fd(fd, data)
        os.fsync(fd)
    except OSError as exc:
        raise _failed("cannot write", where, exc) from exc
    finally:
        os.close(fd)


def _read_fd(fd: int, where: object, max_bytes: int | None) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(where, "is not a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise TransportError(f"{str(where)!r}: {info.st_size} bytes, over the {max_bytes} cap")
    chunks = []
    size = 0
    while chunk := os.read(fd, _CHUNK):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TransportError(f"{str(where)!r}: grew over the {max_bytes} byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_at(dir_fd: int, name: str, where: object) -> bytes:
    fd = os.open(name, _O_READ, dir_fd=dir_fd)
    try:
        return _read_fd(fd, where, None)
    finally:
        os.close(fd)


def _regular_file(dir_fd: int, root: Path, name: str, refusal: str) -> os.stat_result | None:
    """The stat of ``name`` in the directory, without following a symlink; None when it
    does not exist; UnsafePathError (``refusal``) when it is not a regular file."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _failed("cannot stat", root / name, exc) from exc
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(root / name, refusal)
    return info


def _fsync_dir(dir_fd: int, where: Path) -> None:
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        raise _failed("cannot fsync directory", where, exc) from exc


def _load_renameat2() -> Any:
    """glibc's ``renameat2`` (2.28+), or None where it is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fd_type, name_type = ctypes.c_int, ctypes.c_char_p
    function.argtypes = [fd_type, name_type, fd_type, name_type, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_renameat2 = _load_renameat2()
_RENAME_NOREPLACE = 1
_NOREPLACE_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})


def _rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    """Rename without ever replacing an existing target: ``FileExistsError`` if ``dst`` exists,
    ``FileNotFoundError`` if ``src`` is gone. Atomic with Linux ``renameat2(RENAME_NOREPLACE)``;
    where the filesystem lacks it, a check then ``rename``, which can only lose a race to a
    writer that creates the same name in between (names are unique by contract)."""
    if _renameat2 is not None:
        if _renameat2(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in _NOREPLACE_UNSUPPORTED:
            raise OSError(code, os.strerror(code), dst)
    os.stat(src, dir_fd=src_fd, follow_symlinks=False)
    try:
        os.stat(dst, dir_fd=dst_fd, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    else:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)


def _same_content(a_fd: int, a: str, b_fd: int, b: str) -> bool:
    """True when the two names hold regular files with the same bytes; False when they differ
    or either cannot be read."""
    try:
        a_stat = os.stat(a, dir_fd=a_fd, follow_symlinks=False)
        b_stat = os.stat(b, dir_fd=b_fd, follow_symlinks=False)
        if not (stat.S_ISREG(a_stat.st_mode) and stat.S_ISREG(b_stat.st_mode)):
            return False
        if a_stat.st_size != b_stat.st_size:
            return False
        return _read_at(a_fd, a, a) == _read_at(b_fd, b, b)
    except OSError:  # unreadable or gone: not known to be the same, so never dropped (G1)
        return False


# --- writing ----------------------------------------------------------------------------------


def write_atomic(directory: str | os.PathLike[str], name: str, data: bytes) -> Path:
    """Write ``data`` to ``<directory>/<name>`` so readers see the old file or the whole new one,
    never a part (storage rule: ``.<name>.tmp`` opened with ``O_NOFOLLOW|O_CREAT|O_TRUNC``,
    fsync, ``os.replace``, fsync the directory). Replaces an existing file of that name (the
    replace is atomic; an existing symlink is replaced, never followed). Returns the path."""
    name = safe_name(name)
    root = resolve_root(directory)
    with _open_dir(root) as dir_fd:
        _write_new(dir_fd, _tmp(name), data, root / _tmp(name))
        crashpoint("files.before_replace")
        try:
            os.replace(_tmp(name), name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            raise _failed("cannot replace", root / name, exc) from exc
        crashpoint("files.after_replace")
        _fsync_dir(dir_fd, root)
    return root / name


def stage_file(directory: str | os.PathLike[str], name: str, data: bytes) -> Path:
    """First half of an atomic send: write ``data`` to ``<directory>/.<name>.part`` (hidden,
    so no watcher takes it), fsync it and the directory. Staging again overwrites. Returns the
    staged path."""
    name = safe_name(name)
    root = resolve_root(directory)
    with _open_dir(root) as dir_fd:
        _write_new(dir_fd, _part(name), data, root / _part(name))
        _fsync_dir(dir_fd, root)
    return root / _part(name)


def publish_file(directory: str | os.PathLike[str], name: str) -> bool:
    """Second half: rename the staged ``.<name>.part`` to ``<name>`` and fsync the directory.

    Returns True when this call published it, False when nothing is staged (it was published
    already: the rename consumed the staged file, so a retry after a crash never delivers
    twice, G2). If ``<name>`` already exists, a staged copy with the same bytes is dropped
    (False) and one with different bytes raises :class:`FileConflictError`, never overwriting
    (G1); the staged file is then kept.
    """
    name = safe_name(name)
    root = resolve_root(directory)
    part = _part(name)
    with _open_dir(root) as dir_fd:
        if _regular_file(dir_fd, root, part, "staged file is not a regular file") is None:
            return False
        try:
            _rename_noreplace(dir_fd, part, dir_fd, name)
        except FileNotFoundError:
            return False
        except FileExistsError:
            if _same_content(dir_fd, part, dir_fd, name):
                _unlink_quiet(dir_fd, part, root)
                return False
            if not os.path.lexists(root / part):
                return False
            raise FileConflictError(
                root / name, f"exists with different content; the staged {part!r} is kept"
            ) from None
        except OSError as exc:
            raise _failed("cannot publish", root / name, exc) from exc
        _fsync_dir(dir_fd, root)
    return True


def _unlink_quiet(dir_fd: int, name: str, root: Path) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _failed("cannot remove", root / name, exc) from exc
    _fsync_dir(dir_fd, root)
    return True


def ensure_dir(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` (and parents) if missing, fsync its parent, return its real path."""
    path = Path(directory)
    if not path.is_dir():
        try:
            os.makedirs(path, DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise _failed("cannot create directory", path, exc) from exc
        with _open_dir(resolve_root(path.parent)) as parent_fd:
            _fsync_dir(parent_fd, path.parent)
    return resolve_root(path)


# --- moving -----------------------------------------------------------------------------------


def claim_file(
    directory: str | os.PathLike[str], name: str, processing_dir: str | os.PathLike[str]
) -> Path | None:
    """Take ``<directory>/<name>`` for processing by renaming it into ``processing_dir``
    (created if missing; a relative path is below ``directory``), atomically: of several
    claimants exactly one gets the path of the claimed file, the others None. None too when
    the file is gone. The directories are fsync'd before returning.

    Refused: a name ``safe_name`` refuses (:class:`UnsafeNameError`: the caller quarantines the
    file under a name of its own with :func:`move_file`); a symlink or any non-regular file, and
    a processing directory that is a symlink inside the watched folder (:class:`UnsafePathError`,
    T6); a file of that name already in processing (:class:`FileConflictError`, G1: the earlier
    claim is not overwritten). Both directories must be on one filesystem.
    """
    name = safe_name(name)
    root = resolve_root(directory)
    with _open_dir(root) as dir_fd:
        if _regular_file(dir_fd, root, name, "is a symlink or not a regular file; refused") is None:
            return None
        with _open_subdir(dir_fd, root, directory, processing_dir) as (proc_fd, proc_root):
            try:
                _rename_noreplace(dir_fd, name, proc_fd, name)
            except FileNotFoundError:
                return None
            except FileExistsError:
                raise FileConflictError(
                    proc_root / name, "already holds a claimed file of that name"
                ) from None
            except OSError as exc:
                raise _failed("cannot claim", root / name, exc) from exc
            crashpoint("files.after_claim")
            _fsync_dir(proc_fd, proc_root)
            _fsync_dir(dir_fd, root)
    return proc_root / name


def move_file(src: str | os.PathLike[str], directory: str | os.PathLike[str], name: str) -> Path:
    """Move the regular file ``src`` to ``<directory>/<name>``, both directories fsync'd, and
    return the new path. Never overwrites a different file (:class:`FileConflictError`, G1);
    if the target already holds the same bytes, ``src`` is removed (the move had happened).
    If ``src`` is gone but the target exists, the move is taken as done (idempotent after a
    crash). Across filesystems it copies (temp, fsync, rename, fsync) and then removes ``src``.
    ``src`` must not be a symlink (:class:`UnsafePathError`, T6).
    """
    name = safe_name(name)
    root = resolve_root(directory)
    src_path = Path(src)
    src_root = resolve_root(src_path.parent)
    src_name = src_path.name
    with _open_dir(src_root) as src_fd, _open_dir(root) as dst_fd:
        try:
            info = os.stat(src_name, dir_fd=src_fd, follow_symlinks=False)
        except FileNotFoundError:
            if os.path.lexists(root / name):
                return root / name
            raise TransportError(f"cannot move {str(src_path)!r}: no such file") from None
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(src_path, "is a symlink or not a regular file; refused")
        try:
            _rename_noreplace(src_fd, src_name, dst_fd, name)
        except FileExistsError:
            return _settle_existing(src_fd, src_root, src_name, info, dst_fd, root, name)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise _failed("cannot move to", root / name, exc) from exc
            _copy_across(src_fd, src_root, src_name, dst_fd, root, name)
            return root / name
        _fsync_dir(dst_fd, root)
        _fsync_dir(src_fd, src_root)
    return root / name


def _settle_existing(
    src_fd: int,
    src_root: Path,
    src_name: str,
    info: os.stat_result,
    dst_fd: int,
    root: Path,
    name: str,
) -> Path:
    """The target exists: it is the source itself (nothing to do), the same bytes (drop the
    source) or a different file (refuse)."""
    try:
        target = os.stat(name, dir_fd=dst_fd, follow_symlinks=False)
    except FileNotFoundError:
        target = None
    if target is not None and os.path.samestat(info, target):
        return root / name
    if _same_content(src_fd, src_name, dst_fd, name):
        _unlink_quiet(src_fd, src_name, src_root)
        return root / name
    raise FileConflictError(root / name, f"exists with different content than {src_name!r}")


def _copy_across(
    src_fd: int, src_root: Path, src_name: str, dst_fd: int, root: Path, name: str
) -> None:
    try:
        data = _read_at(src_fd, src_name, src_root / src_name)
    except OSError as exc:
        raise _failed("cannot read", src_root / src_name, exc) from exc
    _write_new(dst_fd, _tmp(name), data, root / _tmp(name))
    try:
        _rename_noreplace(dst_fd, _tmp(name), dst_fd, name)
    except FileExistsError:
        _unlink_quiet(dst_fd, _tmp(name), root)
        if not _same_content(src_fd, src_name, dst_fd, name):
            raise FileConflictError(root / name, "exists with different content") from None
    except OSError as exc:
        raise _failed("cannot move to", root / name, exc) from exc
    _fsync_dir(dst_fd, root)
    _unlink_quiet(src_fd, src_name, src_root)


# --- reading and removing ---------------------------------------------------------------------


def stable_files(directory: str | os.PathLike[str], settle_seconds: float) -> list[Path]:
    """Complete files in ``directory``, sorted by name: regular files only (a symlink, FIFO or
    sub-directory is never returned, T6), skipping hidden names, ``*.tmp`` and ``*.part``, and
    files modified less than ``settle_seconds`` ago (still being written; a modification time
    in the future waits until the clock passes it). Names are returned as the filesystem has
    them, possibly ones :func:`safe_name` refuses: check before writing under such a name."""
    root = resolve_root(directory)
    horizon = time.time() - settle_seconds
    found: list[Path] = []
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.name.startswith(".") or entry.name.endswith(RESERVED_SUFFIXES):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    modified = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                if modified <= horizon:
                    found.append(root / entry.name)
    except OSError as exc:
        raise _failed("cannot list", root, exc) from exc
    return sorted(found, key=lambda path: path.name)


def read_file(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """The whole content of the regular file ``path``, opened with ``O_NOFOLLOW`` (a symlink is
    refused with :class:`UnsafePathError`, never read, T6). ``FileNotFoundError`` passes through
    when the file is gone; more than ``max_bytes`` raises :class:`TransportError`."""
    try:
        fd = os.open(path, _O_READ)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _failed("cannot open", path, exc) from exc
    try:
        return _read_fd(fd, path, max_bytes)
    except OSError as exc:
        raise _failed("cannot read", path, exc) from exc
    finally:
        os.close(fd)


def remove_file(path: str | os.PathLike[str], expected_sha256: str | None = None) -> bool:
    """Delete ``path`` and fsync its directory; True if this call removed it, False if it was
    already gone (idempotent). A symlink is removed as itself, never followed.

    With ``expected_sha256``, the file is deleted only if it still holds those bytes (and the
    name still points to the file that was hashed): a file replaced since it was read is new
    input and stays for the next poll (G1). Returns False in that case too.
    """
    target = Path(path)
    root = resolve_root(target.parent)
    name = target.name
    with _open_dir(root) as dir_fd:
        if expected_sha256 is not None and not _holds(dir_fd, name, expected_sha256, root):
            return False
        return _unlink_quiet(dir_fd, name, root)


def _holds(dir_fd: int, name: str, expected_sha256: str, root: Path) -> bool:
    try:
        fd = os.open(name, _O_READ, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False
        raise _failed("cannot open", root / name, exc) from exc
    try:
        digest = sha256_of(_read_fd(fd, root / name, None))
        opened = os.fstat(fd)
        current = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _failed("cannot read", root / name, exc) from exc
    finally:
        os.close(fd)
    return digest == expected_sha256.lower() and os.path.samestat(opened, current)
