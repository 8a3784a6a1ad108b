"""A real OpenSSH ``sshd`` on 127.0.0.1 for the SFTP transport tests (reliability.md section 3).

:func:`find_sshd` uses ``/usr/sbin/sshd`` when installed, else a cached ``apt-get download`` +
``dpkg -x`` of openssh-server, openssh-sftp-server and libwrap0 under ``$ACORN_SSHD_CACHE`` (default
``/tmp/acorn-sshd``). :class:`SshdServer` generates an ed25519 host key and client key in a fresh
directory, writes an ``sshd_config`` listening on 127.0.0.1 and a free port, and runs sshd in
the foreground (``-D -e``) as an unprivileged user: ``nobody`` when we are root (the account is
locked, hence ``UsePAM yes``), else ourselves. A non-root sshd logs in only its own user, so the
tests connect as that user and use absolute remote paths.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("ACORN_SSHD_CACHE", "/tmp/acorn-sshd"))
PACKAGES = ("openssh-server", "openssh-sftp-server", "libwrap0")


class SshdUnavailable(RuntimeError):
    """sshd cannot be found or started here; the message says why."""


@dataclass
class Sshd:
    binary: Path
    env: dict[str, str]


def _lib_env(root: Path) -> dict[str, str]:
    libs = [root / "usr/lib/x86_64-linux-gnu", root / "lib/x86_64-linux-gnu"]
    return {"LD_LIBRARY_PATH": ":".join(str(p) for p in libs if p.is_dir())}


def find_sshd() -> Sshd:
    """An sshd binary and the environment it needs (raises :class:`SshdUnavailable`)."""
    for candidate in (os.environ.get("ACORN_SSHD"), "/usr/sbin/sshd"):
        if candidate and Path(candidate).is_file():
            return Sshd(Path(candidate), {})
    root = CACHE / "root"
    binary = root / "usr/sbin/sshd"
    if not binary.is_file():
        if not shutil.which("apt-get") or not shutil.which("dpkg"):
            raise SshdUnavailable("no /usr/sbin/sshd and no apt-get/dpkg to fetch openssh-server")
        debs = CACHE / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        os.chmod(CACHE, 0o755)
        done = subprocess.run(
            ["apt-get", "download", *PACKAGES], cwd=debs, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        found = sorted(debs.glob("*.deb"))
        if done.returncode != 0 or len(found) < len(PACKAGES):
            raise SshdUnavailable(
                f"apt-get download {' '.join(PACKAGES)} failed: {done.stderr[-400:]}"
            )
        staging = Path(tempfile.mkdtemp(prefix="root.", dir=CACHE))
        for deb in found:
            subprocess.run(["dpkg", "-x", str(deb), str(staging)], check=True, timeout=120)
        os.chmod(staging, 0o755)
        try:
            staging.rename(root)
        except OSError:  # another process got there first
            shutil.rmtree(staging, ignore_errors=True)
    if not binary.is_file():
        raise SshdUnavailable(f"{binary} missing after dpkg -x")
    return Sshd(binary, _lib_env(root))


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    """``ssh-keygen`` a key pair at ``path`` / ``path.pub``."""
    bits = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *bits, "-N", passphrase, "-C", "acorn", "-f", str(path)],
        check=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class SshdServer:
    """One running sshd. ``user`` is the login, ``home`` a directory it owns for the tests'
    remote folders, ``known_hosts`` the pinned host key, ``client_key`` the accepted key."""

    base: Path
    sshd: Sshd
    port: int = 0
    user: str = ""
    home: Path = field(default=Path())
    host_key: Path = field(default=Path())
    client_key: Path = field(default=Path())
    known_hosts: Path = field(default=Path())
    process: subprocess.Popen[bytes] | None = None
    _uid: int = -1
    _gid: int = -1

    @classmethod
    def create(cls, base: Path) -> SshdServer:
        server = cls(base=base, sshd=find_sshd())
        server._prepare()
        return server

    def _prepare(self) -> None:
        account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.user, self._uid, self._gid = account.pw_name, account.pw_uid, account.pw_gid
        b = self.base
        b.mkdir(parents=True, exist_ok=True)
        os.chmod(b, 0o755)
        for parent in b.parents:  # sshd (nobody) must reach the base directory
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if os.geteuid() == 0 and not mode & 0o001:
                os.chmod(parent, mode | 0o001)
        self.host_key = keygen(b / "host_ed25519")
        self.client_key = keygen(b / "client_ed25519")
        (b / "authorized_keys").write_text((b / "client_ed25519.pub").read_text())
        self.home = b / "home"
        self.home.mkdir()
        self.port = free_port()
        self._write_config()
        self.pin(self.host_key)
        if os.geteuid() == 0:
            for path in (b / "host_ed25519", b / "authorized_keys", self.home):
                os.chown(path, self._uid, self._gid)
        os.chmod(b / "authorized_keys", 0o644)

    def _write_config(self) -> None:
        b = self.base
        (b / "sshd_config").write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {b / 'host_ed25519'}\n"
            f"PidFile {b / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {b / 'authorized_keys'}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "UsePAM yes\n"
            "StrictModes no\n"
            "PermitRootLogin no\n"
            "LogLevel VERBOSE\n"
            "MaxStartups 50:30:100\n"
            "Subsystem sftp internal-sftp\n"
        )

    def pin(self, *keys: Path) -> Path:
        """Write ``known_hosts`` pinning the public halves of ``keys`` for this host:port."""
        lines = []
        for key in keys:
            kind, blob = Path(f"{key}.pub").read_text().split()[:2]
            lines.append(f"[127.0.0.1]:{self.port} {kind} {blob}\n")
        self.known_hosts = self.base / "known_hosts"
        self.known_hosts.write_text("".join(lines))
        return self.known_hosts

    def mkdir(self, name: str) -> Path:
        path = self.home / name
        path.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, self._uid, self._gid)
        return path

    def start(self, timeout: float = 10.0) -> None:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.sshd.env}
        cmd = [str(self.sshd.binary), "-f", str(self.base / "sshd_config"), "-D", "-e"]
        log = open(self.base / "sshd.log", "ab")  # noqa: SIM115 - lives as long as the process
        kwargs = {}
        if os.geteuid() == 0:
            kwargs = {"user": self._uid, "group": self._gid, "extra_groups": []}
        self.process = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, **kwargs,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdUnavailable(f"sshd exited {self.process.returncode}: {self.log()[-800:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SshdUnavailable(f"sshd did not answer on 127.0.0.1:{self.port}: {self.log()[-800:]}")

    def log(self) -> str:
        try:
            return (self.base / "sshd.log").read_text(errors="replace")
        except OSError:
            return ""

    def sessions(self) -> list[int]:
        """The pids sshd forked for connections (the ones serving sessions)."""
        return _descendants(self.process.pid) if self.process else []

    def stop_sessions(self, sig: int = signal.SIGSTOP) -> list[int]:
        pids = self.sessions()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pids

    def stop(self) -> None:
        if self.process is None:
            return
        for pid in self.sessions():
            for sig in (signal.SIGCONT, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def start_sshd(base: Path) -> SshdServer:
    """Create and start a server under ``base`` (raises :class:`SshdUnavailable`)."""
    server = SshdServer.create(base)
    server.start()
    return server


def partner_toml(sshd: SshdServer, *, poll_seconds: float | None = None,
                 channel_timeout: float = 5) -> str:
    """The ``[[partners]]`` table of a gateway whose partner ``amazon`` (ZZ:AMAZON, us
    ZZ:ACMEVENDOR) is reached over SFTP at ``sshd``: its download folder the server's
    ``inbox``, its upload folder the server's ``outbox``, settle 0, short timeouts."""
    poll = f"poll_seconds = {poll_seconds}\n" if poll_seconds is not None else ""
    return f"""
[[partners]]
name = "amazon"
id = "ZZ:AMAZON"
our_id = "ZZ:ACMEVENDOR"
transport = "sftp"
{poll}[partners.sftp]
inbox = {json.dumps(str(sshd.home / "inbox"))}
outbox = {json.dumps(str(sshd.home / "outbox"))}
settle_seconds = 0
connect_timeout = 5
banner_timeout = 5
auth_timeout = 5
channel_timeout = {channel_timeout}
[partners.sftp.download]
host = "127.0.0.1"
port = {sshd.port}
user = {json.dumps(sshd.user)}
private_key = {json.dumps(str(sshd.client_key))}
known_hosts = {json.dumps(str(sshd.known_hosts))}
"""
