"""gateway.transports.folder: the partner as two local directories; send is stage + publish,
receive is poll + remove (reliability.md G1, G2, T3 outbound O4-O6, T6)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.errors import FileConflictError, TransportError, UnsafeNameError, UnsafePathError
from gateway.transports import FolderTransport, Incoming, Outgoing, Receipt, Transport

REPO = Path(__file__).resolve().parents[2]


def settled(path: Path) -> Path:
    past = time.time() - 60
    os.utime(path, (past, past), follow_symlinks=False)
    return path


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    outgoing, incoming = tmp_path / "to_partner", tmp_path / "from_partner"
    outgoing.mkdir()
    incoming.mkdir()
    return outgoing, incoming


@pytest.fixture
def transport(dirs: tuple[Path, Path]) -> FolderTransport:
    return FolderTransport("amazon-folder", dirs[0], dirs[1], settle_seconds=2.0)


def test_folder_transport_satisfies_the_transport_protocol(transport: FolderTransport) -> None:
    assert isinstance(transport, Transport)
    assert transport.name == "amazon-folder"


def test_send_makes_exactly_one_visible_file_with_the_bytes(
    transport: FolderTransport, dirs: tuple[Path, Path]
) -> None:
    outgoing, _ = dirs
    payload = b"ISA*00*          *00*          *ZZ*SUPPLIER~"
    transport.stage(Outgoing("ISA000000042.edi", payload, {"set": "856"}))
    assert os.listdir(outgoing) == [".ISA000000042.edi.part"]
    receipt = transport.publish("ISA000000042.edi")
    assert isinstance(receipt, Receipt)
    assert receipt.transport == "amazon-folder"
    assert receipt.reference == str(outgoing.resolve() / "ISA000000042.edi")
    assert receipt.detail["size"] == str(len(payload))
    assert os.listdir(outgoing) == ["ISA000000042.edi"]
    assert (outgoing / "ISA000000042.edi").read_bytes() == payload
    assert transport.publish("ISA000000042.edi") is None
    assert os.listdir(outgoing) == ["ISA000000042.edi"]


def test_publish_with_nothing_staged_is_none(transport: FolderTransport) -> None:
    assert transport.publish("never.edi") is None


def test_publish_never_overwrites_a_different_file(
    transport: FolderTransport, dirs: tuple[Path, Path]
) -> None:
    outgoing, _ = dirs
    (outgoing / "dup.edi").write_bytes(b"earlier")
    transport.stage(Outgoing("dup.edi", b"later"))
    with pytest.raises(FileConflictError):
        transport.publish("dup.edi")
    assert (outgoing / "dup.edi").read_bytes() == b"earlier"


def test_stage_refuses_unsafe_names(transport: FolderTransport, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    for name in ["../escape.edi", "/tmp/x.edi", "a\nb.edi"]:
        with pytest.raises(UnsafeNameError):
            transport.stage(Outgoing(name, b"x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_poll_returns_only_complete_settled_files_with_sha256_and_size(
    transport: FolderTransport, dirs: tuple[Path, Path]
) -> None:
    _, incoming = dirs
    (incoming / "b.edi").write_bytes(b"ISA*b~")
    settled(incoming / "b.edi")
    (incoming / "a.edi").write_bytes(b"ISA*a~")
    settled(incoming / "a.edi")
    (incoming / "c.edi.part").write_bytes(b"half")
    settled(incoming / "c.edi.part")
    (incoming / ".d.edi.tmp").write_bytes(b"half")
    settled(incoming / ".d.edi.tmp")
    (incoming / "still-writing.edi").write_bytes(b"ISA*")
    (incoming / "passwd.edi").symlink_to("/etc/passwd")
    settled(incoming / "passwd.edi")

    items = transport.poll()
    assert [item.name for item in items] == ["a.edi", "b.edi"]
    first = items[0]
    assert first.data == b"ISA*a~"
    assert first.size == 6
    assert first.sha256 == hashlib.sha256(b"ISA*a~").hexdigest()
    assert first.reference == str(incoming.resolve() / "a.edi")
    assert "ISA*a~" not in repr(first)  # payloads stay out of logs (G6)
    # Polling removes nothing.
    assert len(transport.poll()) == 2


def test_poll_with_zero_settle_time_takes_fresh_files(dirs: tuple[Path, Path]) -> None:
    outgoing, incoming = dirs
    (incoming / "fresh.edi").write_bytes(b"x")
    assert [i.name for i in FolderTransport("t", outgoing, incoming, 0).poll()] == ["fresh.edi"]
    assert FolderTransport("t", outgoing, incoming, 3600).poll() == []


def test_remove_is_idempotent(transport: FolderTransport, dirs: tuple[Path, Path]) -> None:
    _, incoming = dirs
    (incoming / "x.edi").write_bytes(b"x")
    settled(incoming / "x.edi")
    [item] = transport.poll()
    transport.remove(item)
    assert not (incoming / "x.edi").exists()
    transport.remove(item)
    assert transport.poll() == []


def test_remove_spares_a_file_replaced_since_the_poll(
    transport: FolderTransport, dirs: tuple[Path, Path]
) -> None:
    _, incoming = dirs
    (incoming / "x.edi").write_bytes(b"first")
    settled(incoming / "x.edi")
    [item] = transport.poll()
    (incoming / "x.edi").write_bytes(b"second, not yet committed")
    transport.remove(item)
    assert (incoming / "x.edi").read_bytes() == b"second, not yet committed"


def test_remove_refuses_a_reference_outside_the_incoming_folder(
    transport: FolderTransport, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.edi"
    victim.write_bytes(b"keep")
    forged = Incoming.of("victim.edi", b"keep", str(victim))
    with pytest.raises(UnsafePathError):
        transport.remove(forged)
    assert victim.read_bytes() == b"keep"


def test_missing_directories_are_transport_errors(tmp_path: Path) -> None:
    lost = FolderTransport("t", tmp_path / "no-out", tmp_path / "no-in", 0)
    with pytest.raises(TransportError):
        lost.poll()
    with pytest.raises(TransportError):
        lost.stage(Outgoing("a.edi", b"a"))


def test_publish_by_a_new_object_after_staging_delivers_once(dirs: tuple[Path, Path]) -> None:
    outgoing, incoming = dirs
    FolderTransport("t", outgoing, incoming).stage(Outgoing("po.edi", b"ISA*1~"))
    # The old object is gone (the process died); a new one finishes the send.
    restarted = FolderTransport("t", outgoing, incoming)
    assert restarted.publish("po.edi") is not None
    assert FolderTransport("t", outgoing, incoming).publish("po.edi") is None
    assert os.listdir(outgoing) == ["po.edi"]


SENDER = """
import sys
from gateway.crashpoints import crashpoint
from gateway.transports import FolderTransport, Outgoing
t = FolderTransport("t", sys.argv[1], sys.argv[2])
t.stage(Outgoing("asn.edi", b"ISA*856~" * 1000))
crashpoint("test.staged")
t.publish("asn.edi")
crashpoint("test.published")
print("recorded", flush=True)
"""


@pytest.mark.parametrize("point", ["files.mid_write", "test.staged", "test.published"])
def test_sender_killed_anywhere_then_recovered_delivers_exactly_once(
    dirs: tuple[Path, Path], point: str
) -> None:
    """kill -9 mid staging (O4), after staging (O5) or after publishing but before recording
    it (O6); the restarted process re-stages only when staging did not finish, otherwise it
    only publishes. The partner sees one complete file, never a .part."""
    outgoing, incoming = dirs
    env = dict(os.environ, ACORN_CRASHPOINT=point, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", SENDER, str(outgoing), str(incoming)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "recorded" not in result.stdout
    restarted = FolderTransport("t", outgoing, incoming)
    if point == "files.mid_write":
        # Staging never returned, so the row was never marked staged: stage again.
        restarted.stage(Outgoing("asn.edi", b"ISA*856~" * 1000))
    receipts = [restarted.publish("asn.edi") for _ in range(3)]
    published = [r for r in receipts if r is not None]
    assert len(published) == (1 if point in ("files.mid_write", "test.staged") else 0)
    assert os.listdir(outgoing) == ["asn.edi"]
    assert (outgoing / "asn.edi").read_bytes() == b"ISA*856~" * 1000
