"""The SFTP transport: the partner is one or two SFTP accounts (reliability.md section 3).

Sending: :meth:`SftpTransport.stage` puts ``outbox/.NAME.part`` with ``confirm=True`` (the size
is checked by a stat); :meth:`SftpTransport.publish` renames it to ``outbox/NAME`` in the same
session. Plain SFTP ``rename`` fails when the target exists (OpenSSH links then unlinks), so an
existing final name is never overwritten: a staged copy with identical bytes is dropped and
``None`` returned (already published), different bytes raise
:class:`gateway.errors.FileConflictError` and the staged file is kept.

Receiving: :meth:`SftpTransport.poll` lists ``inbox``, skips hidden, ``*.part``/``*.tmp`` and
non-regular entries and files not yet settled, and reads each file whole (size cap, sha256);
:meth:`SftpTransport.remove` deletes it (or moves it to ``archive``) after the caller committed.

Security: the host key must be one of the pinned keys of ``known_hosts`` (at most two per host,
for rotation; nothing is ever added), ``look_for_keys=False, allow_agent=False``, strict kex
required (Terrapin, CVE-2023-48795). Keys and passphrases never appear in messages or logs.

Errors: :class:`gateway.errors.HostKeyError` and :class:`gateway.errors.TransportAuthError`
are permanent; refused connections, timeouts, stalls and dropped sessions raise
:class:`gateway.errors.RetryableTransportError`. After any error the session is dropped and
the next call connects afresh. The object holds only a cached session and, for the settle
check, what the previous listing saw; everything that matters is at the partner.

Threads: ``acorn run``'s jobs (the poll and the send of one partner) share one transport, and
so one SSH session. paramiko's SFTP client is not safe for concurrent requests on one channel
(replies are taken by the wrong caller: timeouts, dropped sessions, stale ``.part`` files), so
each operation holds the transport's lock from the session's lookup to its last request.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import posixpath
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
from paramiko.hostkeys import HostKeyEntry, HostKeys

from gateway.config import read_secret
from gateway.errors import (
    ConfigError,
    FileConflictError,
    HostKeyError,
    PermanentTransportError,
    RetryableTransportError,
    TransportAuthError,
    TransportError,
    UnsafeNameError,
    UnsafePathError,
)
from gateway.transports.base import Incoming, Outgoing, Receipt
from gateway.transports.files import PART_SUFFIX, RESERVED_SUFFIXES, safe_name
from gateway.transports.sftp.settings import SftpEndpoint, SftpSettings

logging.getLogger("paramiko").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

MAX_PINNED_KEYS = 2
_CHUNK = 32 * 1024


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as OpenSSH prints it."""
    return key.fingerprint


def _host_names(host: str, port: int) -> list[str]:
    return [host] if port == 22 else [f"[{host}]:{port}"]


def load_pins(endpoint: SftpEndpoint) -> list[paramiko.PKey]:
    """The pinned host keys of ``endpoint`` from its known_hosts file (plain or hashed names).
    More than :data:`MAX_PINNED_KEYS` for one host is a configuration error."""
    path = endpoint.known_hosts
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PermanentTransportError(f"known_hosts {str(path)!r}: cannot read: {exc}") from exc
    names = _host_names(endpoint.host, endpoint.port)
    pins: list[paramiko.PKey] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            entry = HostKeyEntry.from_line(line, number)
        except Exception as exc:  # paramiko raises several types for bad lines
            raise PermanentTransportError(
                f"known_hosts {str(path)!r} line {number}: unreadable ({type(exc).__name__})"
            ) from None
        if entry is None or entry.key is None:
            continue
        for pattern in entry.hostnames:
            if pattern.startswith("|1|"):
                salt = pattern.split("|")[2]
                matched = any(HostKeys.hash_host(n, salt) == pattern for n in names)
            else:
                matched = pattern in names
            if matched:
                pins.append(entry.key)
                break
    if len(pins) > MAX_PINNED_KEYS:
        raise PermanentTransportError(
            f"known_hosts {str(path)!r}: {len(pins)} keys pinned for {names[0]}, "
            f"at most {MAX_PINNED_KEYS} (current and next, for rotation)"
        )
    return pins


class _PinnedPolicy(paramiko.MissingHostKeyPolicy):
    """Accept the server key only if it is one of ``pins``; nothing is ever added. The client
    is given no host keys, so paramiko always asks this policy."""

    def __init__(self, pins: list[paramiko.PKey], where: str) -> None:
        self.pins = pins
        self.where = where
        self.seen: str | None = None

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        self.seen = fingerprint(key)
        for pin in self.pins:
            if pin.get_name() == key.get_name() and pin.asbytes() == key.asbytes():
                return
        if self.pins:
            raise HostKeyError(
                f"{self.where}: host key CHANGED: the server offered {key.get_name()} "
                f"{self.seen}, which matches none of the {len(self.pins)} pinned key(s); "
                "refused (update known_hosts only from the partner's published fingerprint)",
                seen=self.seen, changed=True,
            )  # fmt: skip
        raise HostKeyError(
            f"{self.where}: host key UNKNOWN: no key pinned for this host in known_hosts; "
            f"the server offered {key.get_name()} {self.seen}; refused",
            seen=self.seen, changed=False,
        )  # fmt: skip


def load_private_key(
    endpoint: SftpEndpoint, environ: dict[str, str] | None = None
) -> paramiko.PKey:
    """The client key (ed25519, ECDSA or RSA), its passphrase from ``passphrase_env`` or
    ``passphrase_file``. The file must not be readable by group or others."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    path = Path(endpoint.private_key)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise PermanentTransportError(
            f"private key {str(path)!r}: cannot stat: {exc.strerror}"
        ) from None
    if mode & 0o077:
        raise PermanentTransportError(
            f"private key {str(path)!r}: mode {stat.S_IMODE(mode):04o} lets others read it; "
            "chmod 600"
        )
    try:
        passphrase = read_secret(f"private key {str(path)!r} (its passphrase)",
                                 endpoint.passphrase_env, endpoint.passphrase_file, environ)
    except ConfigError as exc:
        raise PermanentTransportError(str(exc)) from None
    try:
        secret = passphrase.encode("utf-8") if passphrase is not None else None
        return paramiko.PKey.from_path(path, secret)  # type: ignore[arg-type]
    except paramiko.PasswordRequiredException:
        raise TransportAuthError(
            f"private key {str(path)!r} is encrypted and no passphrase is configured"
        ) from None
    except (paramiko.SSHException, ValueError, TypeError, OSError) as exc:
        # The message of a decryption failure never contains the passphrase, but keep only
        # the type to be sure nothing of the key leaks.
        raise TransportAuthError(
            f"private key {str(path)!r}: cannot be loaded ({type(exc).__name__}; "
            "wrong passphrase or unsupported format)"
        ) from None


class _Session:
    def __init__(self, client: paramiko.SSHClient, sftp: paramiko.SFTPClient, seen: str) -> None:
        self.client = client
        self.sftp = sftp
        self.host_key = seen

    def close(self) -> None:
        for closer in (self.sftp.close, self.client.close):
            with contextlib.suppress(Exception):  # a broken session must not mask the error
                closer()


def _is_missing(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT


class SftpTransport:
    """A :class:`gateway.transports.base.Transport` over SFTP (see the module docstring).

    ``environ`` supplies the passphrase variables (default ``os.environ``). Use as a context
    manager or call :meth:`close` to drop the cached sessions.
    """

    def __init__(
        self, name: str, settings: SftpSettings, environ: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self._environ = environ
        self._sessions: dict[str, _Session] = {}
        #: One operation at a time on the shared sessions (see the module docstring).
        self._lock = threading.RLock()
        self._previous: dict[str, tuple[int, int]] = {}
        self.inbox = posixpath.normpath(settings.inbox)
        self.outbox = posixpath.normpath(settings.outbox)
        self.archive = posixpath.normpath(settings.archive) if settings.archive else None

    def __repr__(self) -> str:
        d, u = self.settings.download, self.settings.upload_endpoint
        return (
            f"SftpTransport({self.name!r}, download={d.user}@{d.host}:{d.port}{self.inbox}, "
            f"upload={u.user}@{u.host}:{u.port}{self.outbox})"
        )

    def __enter__(self) -> SftpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()

    # --- sessions -----------------------------------------------------------------------------

    @staticmethod
    def _where(endpoint: SftpEndpoint) -> str:
        return f"sftp {endpoint.user}@{endpoint.host}:{endpoint.port}"

    def _key(self, endpoint: SftpEndpoint) -> str:
        return f"{endpoint.user}@{endpoint.host}:{endpoint.port}"

    def connect(self, endpoint: SftpEndpoint) -> _Session:
        """A new authenticated session with the SFTP channel open (typed errors)."""
        s = self.settings
        where = self._where(endpoint)
        policy = _PinnedPolicy(load_pins(endpoint), where)
        pkey = load_private_key(endpoint, self._environ) if endpoint.private_key else None
        try:
            password = read_secret(f"{where} password", endpoint.password_env,
                                   endpoint.password_file, self._environ)  # fmt: skip
        except ConfigError as exc:
            raise PermanentTransportError(str(exc)) from None
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(policy)  # no load_system_host_keys: pins only
        try:
            client.connect(
                endpoint.host, endpoint.port, username=endpoint.user, pkey=pkey,
                password=password, look_for_keys=False, allow_agent=False,
                timeout=s.connect_timeout,
                banner_timeout=s.banner_timeout, auth_timeout=s.auth_timeout,
                channel_timeout=s.channel_timeout,
            )  # fmt: skip
            transport = client.get_transport()
            if transport is None:
                raise RetryableTransportError(f"{where}: connection closed after login")
            if s.require_strict_kex and not getattr(transport, "agreed_on_strict_kex", False):
                raise PermanentTransportError(
                    f"{where}: the server does not offer strict kex (Terrapin, CVE-2023-48795); "
                    "refused (set require_strict_kex = false to accept)"
                )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(s.channel_timeout)
        except TransportError:
            client.close()
            raise
        except paramiko.AuthenticationException:
            client.close()
            raise TransportAuthError(
                f"{where}: authentication refused (check the user and the client key)"
            ) from None
        except BaseException as exc:
            client.close()
            raise self._classify(exc, where, "cannot connect") from exc
        return _Session(client, sftp, policy.seen or "")

    def _session(self, endpoint: SftpEndpoint) -> _Session:
        key = self._key(endpoint)
        session = self._sessions.get(key)
        if session is not None:
            transport = session.client.get_transport()
            if transport is not None and transport.is_active():
                return session
            session.close()
            del self._sessions[key]
        session = self.connect(endpoint)
        self._sessions[key] = session
        return session

    def _drop(self, endpoint: SftpEndpoint) -> None:
        session = self._sessions.pop(self._key(endpoint), None)
        if session is not None:
            session.close()

    @staticmethod
    def _classify(exc: BaseException, where: str, action: str) -> TransportError:
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, socket.timeout | TimeoutError):
            return RetryableTransportError(f"{where}: {action}: timed out")
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
            return PermanentTransportError(f"{where}: {action}: permission denied")
        if isinstance(exc, OSError | EOFError | paramiko.SSHException):
            detail = str(exc) or type(exc).__name__
            return RetryableTransportError(f"{where}: {action}: {detail}")
        return RetryableTransportError(f"{where}: {action}: {type(exc).__name__}: {exc}")

    @contextmanager
    def _using(self, endpoint: SftpEndpoint, action: str) -> Iterator[paramiko.SFTPClient]:
        """The SFTP client of ``endpoint``; any error that is not a plain SFTP status (a
        timeout, a dropped connection) drops the session and is re-raised typed. The
        transport's lock is held throughout: one operation at a time per transport."""
        with self._lock:
            yield from self._used(endpoint, action)

    def _used(self, endpoint: SftpEndpoint, action: str) -> Iterator[paramiko.SFTPClient]:
        session = self._session(endpoint)
        try:
            yield session.sftp
        except TransportError:
            raise
        except OSError as exc:
            # paramiko raises IOError with an errno for SFTP statuses (the session is fine),
            # socket.timeout/OSError without one when the channel broke.
            if isinstance(exc, socket.timeout | TimeoutError) or (
                exc.errno is None
                and not (exc.args and isinstance(exc.args[0], str) and exc.args[0] in _SFTP_STATUS)
            ):
                self._drop(endpoint)
            raise self._classify(exc, self._where(endpoint), action) from exc
        except (EOFError, paramiko.SSHException) as exc:
            self._drop(endpoint)
            raise self._classify(exc, self._where(endpoint), action) from exc

    # --- sending ------------------------------------------------------------------------------

    def _part(self, name: str) -> str:
        return posixpath.join(self.outbox, f".{name}{PART_SUFFIX}")

    def stage(self, item: Outgoing) -> None:
        """Put ``outbox/.<name>.part`` (truncating an earlier staged copy), size confirmed."""
        name = safe_name(item.name)
        endpoint = self.settings.upload_endpoint
        part = self._part(name)
        with self._using(endpoint, f"cannot stage {part!r}") as sftp:
            sftp.putfo(io.BytesIO(item.data), part, file_size=len(item.data), confirm=True)

    def publish(self, name: str) -> Receipt | None:
        """Rename the staged file to ``outbox/<name>`` in this session. ``None`` when nothing
        is staged (already published) or when ``<name>`` already holds the same bytes;
        :class:`FileConflictError` when it holds other bytes (the staged file is kept)."""
        name = safe_name(name)
        endpoint = self.settings.upload_endpoint
        part, final = self._part(name), posixpath.join(self.outbox, name)
        with self._using(endpoint, f"cannot publish {final!r}") as sftp:
            try:
                info = sftp.lstat(part)
            except OSError as exc:
                if _is_missing(exc):
                    return None
                raise
            if not stat.S_ISREG(info.st_mode or 0):
                raise UnsafePathError(part, "staged file is not a regular file")
            try:
                sftp.rename(part, final)
            except OSError as exc:
                if _is_missing(exc):
                    return None
                try:
                    sftp.lstat(final)
                except OSError as missing:
                    if _is_missing(missing):
                        raise exc from None
                    raise
                if self._digest(sftp, part) == self._digest(sftp, final):
                    self._remove_quiet(sftp, part)
                    return None
                raise FileConflictError(
                    final, f"exists with different content; the staged {part!r} is kept"
                ) from None
        detail = {"host": endpoint.host, "directory": self.outbox, "name": name}
        if info.st_size is not None:
            detail["size"] = str(info.st_size)
        return Receipt(transport=self.name, reference=final, detail=detail)

    def _digest(self, sftp: paramiko.SFTPClient, path: str) -> str:
        return hashlib.sha256(self._read(sftp, path, self.settings.max_file_bytes)).hexdigest()

    @staticmethod
    def _remove_quiet(sftp: paramiko.SFTPClient, path: str) -> None:
        try:
            sftp.remove(path)
        except OSError as exc:
            if not _is_missing(exc):
                raise

    # --- receiving ----------------------------------------------------------------------------

    @staticmethod
    def _read(sftp: paramiko.SFTPClient, path: str, cap: int, size: int | None = None) -> bytes:
        """The whole file, at most ``cap`` bytes (TransportError beyond). Gathered in a
        BytesIO, whose ``getvalue()`` hands its buffer over without a copy: the peak is
        about the file's size once (a bytearray then ``bytes()`` held it two to three times)."""
        with sftp.open(path, "rb") as remote:
            if size:
                remote.prefetch(size, max_concurrent_requests=64)
            buffer = io.BytesIO()
            while True:
                chunk = remote.read(_CHUNK)
                if not chunk:
                    break
                buffer.write(chunk)
                if buffer.tell() > cap:
                    raise PermanentTransportError(f"{path!r}: larger than {cap} bytes; refused")
        return buffer.getvalue()

    def _listing(self, sftp: paramiko.SFTPClient) -> list[paramiko.SFTPAttributes]:
        entries = []
        for attrs in sftp.listdir_attr(self.inbox):
            name = attrs.filename
            if name.startswith(".") or name.endswith(RESERVED_SUFFIXES):
                continue
            if attrs.st_mode is None or not stat.S_ISREG(attrs.st_mode):
                continue  # symlinks, directories, devices (T6)
            try:
                safe_name(name)
            except UnsafeNameError as exc:
                log.warning("sftp %s: skipping %s", self.name, exc)
                continue
            entries.append(attrs)
        return sorted(entries, key=lambda a: a.filename)

    def poll(self) -> list[Incoming]:
        """Settled regular files of ``inbox``, read whole, sorted by name; ``reference`` is the
        remote path. A file is settled when its mtime is at least ``settle_seconds`` old, or
        when the previous poll saw it with the same size and mtime. A file larger than
        ``max_file_bytes`` is skipped with a warning."""
        endpoint = self.settings.download
        s = self.settings
        received: list[Incoming] = []
        with self._using(endpoint, f"cannot poll {self.inbox!r}") as sftp:
            now = time.time()
            seen: dict[str, tuple[int, int]] = {}
            for attrs in self._listing(sftp):
                name, size, mtime = attrs.filename, attrs.st_size or 0, attrs.st_mtime or 0
                seen[name] = (size, mtime)
                settled = now - mtime >= s.settle_seconds or self._previous.get(name) == seen[name]
                if not settled:
                    continue
                if size > s.max_file_bytes:
                    log.warning(
                        "sftp %s: %s is %d bytes, over max_file_bytes %d; left in place",
                        self.name, name, size, s.max_file_bytes,
                    )  # fmt: skip
                    continue
                path = posixpath.join(self.inbox, name)
                try:
                    data = self._read(sftp, path, s.max_file_bytes, size)
                except OSError as exc:
                    if _is_missing(exc):
                        continue  # gone between the listing and the read
                    raise
                except PermanentTransportError as exc:
                    log.warning("sftp %s: %s; left in place", self.name, exc)
                    continue
                if len(data) != size:
                    continue  # still being written after all: the next poll sees it again
                received.append(Incoming.of(name, data, path))
            self._previous = seen
        return received

    def remove(self, item: Incoming) -> None:
        """Delete the polled file (or move it to ``archive``) after the caller committed it.
        Gone already is fine. A file whose size changed since the poll is new input and is
        left. ``item.reference`` must be in ``inbox`` (:class:`UnsafePathError`)."""
        reference = item.reference
        if posixpath.dirname(posixpath.normpath(reference)) != self.inbox:
            raise UnsafePathError(reference, f"is not in the inbox {self.inbox!r}")
        name = safe_name(posixpath.basename(reference))
        endpoint = self.settings.download
        with self._using(endpoint, f"cannot remove {reference!r}") as sftp:
            try:
                info = sftp.lstat(reference)
            except OSError as exc:
                if _is_missing(exc):
                    return
                raise
            if info.st_size != item.size:
                log.warning("sftp %s: %s changed since it was polled; left", self.name, name)
                return
            if self.archive is None:
                self._remove_quiet(sftp, reference)
                return
            for target in (name, f"{name}.{item.sha256[:16]}"):
                try:
                    sftp.rename(reference, posixpath.join(self.archive, target))
                    return
                except OSError as exc:
                    if _is_missing(exc):
                        try:
                            sftp.lstat(reference)
                        except OSError:
                            return  # already moved
                    continue
            raise PermanentTransportError(
                f"cannot archive {reference!r} into {self.archive!r}: the name is taken"
            )

    # --- diagnostics --------------------------------------------------------------------------

    def probe(self) -> list[dict[str, Any]]:
        """For ``acorn doctor``: per endpoint, whether it connects, the host key seen and
        whether it matches the pin."""
        results = []
        endpoints = {"download": self.settings.download}
        if self.settings.upload is not None:
            endpoints["upload"] = self.settings.upload
        for role, endpoint in endpoints.items():
            result: dict[str, Any] = {"endpoint": role, "where": self._where(endpoint)}
            try:
                session = self.connect(endpoint)
            except HostKeyError as exc:
                result.update(connects=False, host_key=exc.seen, pinned=False, error=str(exc))
            except TransportError as exc:
                result.update(connects=False, host_key=None, pinned=None, error=str(exc))
            else:
                result.update(connects=True, host_key=session.host_key, pinned=True, error=None)
                session.close()
            results.append(result)
        return results


# paramiko's SFTP status texts (IOError args) that leave the session usable.
_SFTP_STATUS = frozenset({"Failure", "Bad message", "Operation unsupported", "EOF"})
