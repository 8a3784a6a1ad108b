"""gateway.transports.files: atomic writes, stage/publish, claims and moves, settled listings,
safe names; every written path stays under its root (reliability.md storage rules, G1, G2, T6)."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import (
    FileConflictError,
    TransportError,
    UnsafeNameError,
    UnsafePathError,
)
from gateway.transports import files
from gateway.transports.files import (
    claim_file,
    contained,
    ensure_dir,
    move_file,
    publish_file,
    read_file,
    remove_file,
    safe_name,
    sha256_of,
    stable_files,
    stage_file,
    staged_path,
    write_atomic,
)

REPO = Path(__file__).resolve().parents[2]
OLD = 10_000  # seconds: an mtime this far back is settled for any test setting


def age(path: Path, seconds: float = OLD) -> Path:
    """Set the mtime of ``path`` (not following symlinks) ``seconds`` into the past."""
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)
    return path


def snapshot(top: Path) -> dict[str, bytes | str]:
    """Every entry under ``top``: file bytes, symlink targets, directories."""
    tree: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            path = Path(dirpath) / entry
            key = str(path.relative_to(top))
            if path.is_symlink():
                tree[key] = "-> " + os.readlink(path)
            elif path.is_dir():
                tree[key] = "dir"
            else:
                tree[key] = path.read_bytes()
    return tree


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A sibling of the root holding a file that must never change."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "target").write_bytes(b"outside, untouched")
    return path


# --- safe_name --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "../../etc/x",
        "/etc/x",
        "..\\x",
        "a\\b",
        "a/b",
        "a\0b",
        "a\nb",
        "a\rb",
        "x\x1b[31m",
        "x\x7f",
        "x\u202eevil",
        "x\udcff",
        "x" * 300,
        "x" * 201,
        "é" * 150,
        "",
        ".",
        "..",
        ".hidden",
        "po.json.part",
        "po.json.tmp",
    ],
)
@pytest.mark.battery("T6")
def test_safe_name_refuses_traversal_separators_controls_and_overlong_names(
    name: str, battery: Any
) -> None:
    """A hostile name is refused with its repr in the message; nothing is written."""
    with pytest.raises(UnsafeNameError) as info:
        safe_name(name)
    assert info.value.value == name
    assert repr(name) in str(info.value)
    battery.record(1, what="one hostile name given to safe_name", refused=1,
                   files_outside_root=0)  # fmt: skip


@pytest.mark.parametrize(
    "name", ["PO-123_850.json", "ISA000000001.edi", "-rf", "résumé 2024.x12", "x" * 200]
)
def test_safe_name_accepts_ordinary_names_unchanged(name: str) -> None:
    assert safe_name(name) == name


def test_safe_name_refuses_non_strings() -> None:
    with pytest.raises(UnsafeNameError):
        safe_name(b"x")  # type: ignore[arg-type]


# --- write_atomic -----------------------------------------------------------------------------


def test_write_atomic_writes_the_bytes_and_leaves_no_temporary_file(root: Path) -> None:
    path = write_atomic(root, "po.json", b'{"po": 1}')
    assert path == root.resolve() / "po.json"
    assert path.read_bytes() == b'{"po": 1}'
    assert os.listdir(root) == ["po.json"]


def test_write_atomic_replaces_an_existing_file_whole(root: Path) -> None:
    write_atomic(root, "po.json", b"old" * 1000)
    inode = (root / "po.json").stat().st_ino
    write_atomic(root, "po.json", b"new")
    assert (root / "po.json").read_bytes() == b"new"
    # A replacement is a new inode renamed over the name, never an in-place rewrite.
    assert (root / "po.json").stat().st_ino != inode
    assert os.listdir(root) == ["po.json"]


def test_write_atomic_replaces_a_symlink_without_following_it(root: Path, outside: Path) -> None:
    (root / "po.json").symlink_to(outside / "target")
    write_atomic(root, "po.json", b"mine")
    assert not (root / "po.json").is_symlink()
    assert (root / "po.json").read_bytes() == b"mine"
    assert (outside / "target").read_bytes() == b"outside, untouched"


def test_write_atomic_refuses_a_symlink_planted_at_the_temporary_name(
    root: Path, outside: Path
) -> None:
    (root / ".po.json.tmp").symlink_to(outside / "target")
    with pytest.raises(UnsafePathError, match="symlink"):
        write_atomic(root, "po.json", b"mine")
    assert (outside / "target").read_bytes() == b"outside, untouched"
    assert not (root / "po.json").exists()


def test_write_atomic_into_a_missing_directory_is_a_transport_error(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="missing"):
        write_atomic(tmp_path / "missing", "po.json", b"x")


CRASH_WRITER = """
import sys
from gateway.transports.files import write_atomic
write_atomic(sys.argv[1], "po.json", b"N" * 100_000)
print("finished", flush=True)
"""


def run_killed(code: str, crashpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACORN_CRASHPOINT=crashpoint, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("point", "visible"),
    [
        ("files.mid_write", b"old"),
        ("files.before_replace", b"old"),
        ("files.after_replace", b"N" * 100_000),
    ],
)
def test_write_atomic_killed_at_any_point_leaves_the_old_or_the_whole_new_file(
    root: Path, point: str, visible: bytes
) -> None:
    write_atomic(root, "po.json", b"old")
    result = run_killed(CRASH_WRITER, point, str(root))
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "finished" not in result.stdout
    assert (root / "po.json").read_bytes() == visible
    # A leftover temporary file is hidden: watchers never take it, the next write reuses it.
    assert stable_files(root, 0) == [root.resolve() / "po.json"]
    write_atomic(root, "po.json", b"again")
    assert sorted(os.listdir(root)) == ["po.json"]
    assert (root / "po.json").read_bytes() == b"again"


# --- stage_file / publish_file ----------------------------------------------------------------


def test_stage_writes_a_hidden_part_file_that_watchers_ignore(root: Path) -> None:
    staged = stage_file(root, "asn.edi", b"ISA*...")
    assert staged == root.resolve() / ".asn.edi.part" == staged_path(root, "asn.edi")
    assert staged.read_bytes() == b"ISA*..."
    assert not (root / "asn.edi").exists()
    assert stable_files(root, 0) == []


def test_publish_makes_the_staged_bytes_visible_once(root: Path) -> None:
    stage_file(root, "asn.edi", b"first")
    stage_file(root, "asn.edi", b"staged again overwrites")
    assert publish_file(root, "asn.edi") is True
    assert os.listdir(root) == ["asn.edi"]
    assert (root / "asn.edi").read_bytes() == b"staged again overwrites"
    assert publish_file(root, "asn.edi") is False
    assert os.listdir(root) == ["asn.edi"]


def test_publish_with_nothing_staged_returns_false(root: Path) -> None:
    assert publish_file(root, "never-staged.edi") is False
    assert os.listdir(root) == []


def test_publish_refuses_to_overwrite_a_different_final_file(root: Path) -> None:
    (root / "inv.edi").write_bytes(b"someone else's")
    stage_file(root, "inv.edi", b"ours")
    with pytest.raises(FileConflictError, match="different content"):
        publish_file(root, "inv.edi")
    assert (root / "inv.edi").read_bytes() == b"someone else's"
    assert (root / ".inv.edi.part").read_bytes() == b"ours"


def test_publish_over_an_identical_final_file_drops_the_staged_copy(root: Path) -> None:
    (root / "inv.edi").write_bytes(b"same")
    stage_file(root, "inv.edi", b"same")
    assert publish_file(root, "inv.edi") is False
    assert os.listdir(root) == ["inv.edi"]


def test_concurrent_publishers_deliver_exactly_once(root: Path) -> None:
    for i in range(20):
        stage_file(root, f"f{i}.edi", b"x")
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def publisher() -> None:
        barrier.wait()
        results.extend(publish_file(root, f"f{i}.edi") for i in range(20))

    threads = [threading.Thread(target=publisher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 20
    assert sorted(os.listdir(root)) == sorted(f"f{i}.edi" for i in range(20))


# --- claim_file -------------------------------------------------------------------------------


def test_claim_moves_the_file_into_the_processing_directory(root: Path) -> None:
    (root / "ack.json").write_bytes(b"{}")
    claimed = claim_file(root, "ack.json", "processing")
    assert claimed == root.resolve() / "processing" / "ack.json"
    assert claimed.read_bytes() == b"{}"
    assert not (root / "ack.json").exists()
    assert claim_file(root, "ack.json", "processing") is None


def test_two_claimants_of_one_file_exactly_one_wins(root: Path) -> None:
    names = [f"erp{i}.json" for i in range(50)]
    for name in names:
        (root / name).write_bytes(name.encode())
    outcomes: dict[str, list[Path | None]] = {name: [] for name in names}
    barrier = threading.Barrier(2)

    def claimant() -> None:
        barrier.wait()
        for name in names:
            outcomes[name].append(claim_file(root, name, root / "processing"))

    threads = [threading.Thread(target=claimant) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, got in outcomes.items():
        assert len(got) == 2
        winners = [path for path in got if path is not None]
        assert winners == [root.resolve() / "processing" / name]
        assert winners[0].read_bytes() == name.encode()
    assert sorted(os.listdir(root / "processing")) == sorted(names)


def test_claim_never_overwrites_an_earlier_claim_of_the_same_name(root: Path) -> None:
    (root / "ship.json").write_bytes(b"first")
    claim_file(root, "ship.json", "processing")
    (root / "ship.json").write_bytes(b"second")
    with pytest.raises(FileConflictError, match="already holds"):
        claim_file(root, "ship.json", "processing")
    assert (root / "processing" / "ship.json").read_bytes() == b"first"
    assert (root / "ship.json").read_bytes() == b"second"


@pytest.mark.battery("T6")
def test_claim_refuses_a_symlink_in_the_watched_folder(root: Path, battery: Any) -> None:
    """A symlink to /etc/passwd in a watched folder is refused, left as it is, never moved."""
    (root / "passwd.json").symlink_to("/etc/passwd")
    with pytest.raises(UnsafePathError, match="symlink"):
        claim_file(root, "passwd.json", "processing")
    assert (root / "passwd.json").is_symlink()
    moved = [p for p in (root / "processing").iterdir()] if (root / "processing").exists() else []
    assert moved == []
    battery.record(1, what="claim of a symlink to /etc/passwd", symlinks_followed=0,
                   files_outside_root=len(moved))  # fmt: skip


def test_claim_refuses_a_processing_directory_that_is_a_symlink(root: Path, outside: Path) -> None:
    (root / "processing").symlink_to(outside)
    (root / "x.json").write_bytes(b"{}")
    before = snapshot(outside)
    with pytest.raises(UnsafePathError):
        claim_file(root, "x.json", "processing")
    with pytest.raises(UnsafePathError):
        claim_file(root, "x.json", root / "processing")
    assert snapshot(outside) == before
    assert (root / "x.json").read_bytes() == b"{}"


def test_claim_refuses_names_safe_name_refuses(root: Path) -> None:
    (root / "a\nb").write_bytes(b"{}")
    with pytest.raises(UnsafeNameError):
        claim_file(root, "a\nb", "processing")
    (root / "x.json").write_bytes(b"{}")
    with pytest.raises(UnsafePathError):
        claim_file(root, "x.json", "../escape")


def test_claim_of_a_missing_file_is_none(root: Path) -> None:
    assert claim_file(root, "gone.json", "processing") is None


# --- move_file --------------------------------------------------------------------------------


def test_move_file_moves_and_is_idempotent(root: Path, tmp_path: Path) -> None:
    done = ensure_dir(tmp_path / "done")
    (root / "a.json").write_bytes(b"a")
    moved = move_file(root / "a.json", done, "a.json")
    assert moved == done / "a.json"
    assert moved.read_bytes() == b"a"
    assert not (root / "a.json").exists()
    # Re-run after a crash between the move and recording it: the move is done.
    assert move_file(root / "a.json", done, "a.json") == done / "a.json"
    # Moving a file onto itself changes nothing.
    assert move_file(done / "a.json", done, "a.json") == done / "a.json"
    assert (done / "a.json").read_bytes() == b"a"


def test_move_file_never_overwrites_a_different_file(root: Path, tmp_path: Path) -> None:
    done = ensure_dir(tmp_path / "done")
    (done / "a.json").write_bytes(b"other")
    (root / "a.json").write_bytes(b"mine")
    with pytest.raises(FileConflictError):
        move_file(root / "a.json", done, "a.json")
    assert (done / "a.json").read_bytes() == b"other"
    assert (root / "a.json").read_bytes() == b"mine"


def test_move_file_onto_identical_bytes_drops_the_source(root: Path, tmp_path: Path) -> None:
    done = ensure_dir(tmp_path / "done")
    (done / "a.json").write_bytes(b"same")
    (root / "a.json").write_bytes(b"same")
    assert move_file(root / "a.json", done, "a.json") == done / "a.json"
    assert not (root / "a.json").exists()


def test_move_file_across_filesystems_copies_then_removes_the_source(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename across filesystems fails with EXDEV; the move becomes temp, fsync, rename."""
    done = ensure_dir(tmp_path / "done")
    real_rename = files._rename_noreplace

    def cross_device(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
        if not src.startswith("."):  # the source itself is on "another filesystem"
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), dst)
        real_rename(src_fd, src, dst_fd, dst)

    monkeypatch.setattr(files, "_rename_noreplace", cross_device)
    (root / "a.json").write_bytes(b"across")
    assert move_file(root / "a.json", done, "a.json") == done / "a.json"
    assert os.listdir(done) == ["a.json"]
    assert (done / "a.json").read_bytes() == b"across"
    assert not (root / "a.json").exists()
    (root / "b.json").write_bytes(b"mine")
    (done / "b.json").write_bytes(b"other")
    with pytest.raises(FileConflictError):
        move_file(root / "b.json", done, "b.json")
    assert (done / "b.json").read_bytes() == b"other"
    assert (root / "b.json").read_bytes() == b"mine"
    assert sorted(os.listdir(done)) == ["a.json", "b.json"]


def test_move_file_renames_into_a_safe_name_and_refuses_symlinks(root: Path) -> None:
    quarantine = ensure_dir(root / "quarantine")
    (root / "a\nb").write_bytes(b"odd name")
    assert move_file(root / "a\nb", quarantine, "odd-name").read_bytes() == b"odd name"
    (root / "link").symlink_to("/etc/passwd")
    with pytest.raises(UnsafePathError):
        move_file(root / "link", quarantine, "link")
    with pytest.raises(UnsafeNameError):
        move_file(root / "quarantine" / "odd-name", quarantine, "../odd")
    with pytest.raises(TransportError, match="no such file"):
        move_file(root / "nothing", quarantine, "nothing")


# --- stable_files, read_file, remove_file -----------------------------------------------------


def test_stable_files_returns_only_settled_regular_files_sorted(root: Path) -> None:
    for name in ["b.json", "a.json", "c.json.part", "d.json.tmp", ".hidden", "recent.json"]:
        (root / name).write_bytes(b"x")
        if name != "recent.json":
            age(root / name)
    (root / "sub").mkdir()
    age(root / "sub")
    os.mkfifo(root / "fifo")
    age(root / "fifo")
    (root / "passwd").symlink_to("/etc/passwd")
    age(root / "passwd")
    (root / "dangling").symlink_to(root / "missing")
    age(root / "dangling")
    assert stable_files(root, 5) == [root.resolve() / "a.json", root.resolve() / "b.json"]
    # With no settle time the recent file is complete too; links and specials never are.
    assert [path.name for path in stable_files(root, 0)] == ["a.json", "b.json", "recent.json"]


@pytest.mark.battery("T6")
def test_a_symlink_to_etc_passwd_is_never_returned_nor_read(root: Path, battery: Any) -> None:
    """A symlink in a watched folder is never listed as a file nor read (O_NOFOLLOW)."""
    (root / "orders.json").symlink_to("/etc/passwd")
    age(root / "orders.json")
    listed = stable_files(root, 0)
    assert listed == []
    with pytest.raises(UnsafePathError, match="symlink"):
        read_file(root / "orders.json")
    battery.record(2, what="list and read of a symlink to /etc/passwd",
                   symlinks_followed=len(listed), files_outside_root=0)  # fmt: skip


def test_future_mtime_waits_until_the_clock_passes_it(root: Path) -> None:
    (root / "skewed.json").write_bytes(b"x")
    future = time.time() + 3600
    os.utime(root / "skewed.json", (future, future))
    assert stable_files(root, 1) == []


def test_stable_files_of_a_missing_directory_is_a_transport_error(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot list"):
        stable_files(tmp_path / "missing", 0)


def test_read_file_reads_whole_and_caps_size(root: Path) -> None:
    (root / "big.edi").write_bytes(b"y" * 5000)
    assert read_file(root / "big.edi") == b"y" * 5000
    with pytest.raises(TransportError, match="cap"):
        read_file(root / "big.edi", max_bytes=4999)
    with pytest.raises(FileNotFoundError):
        read_file(root / "gone.edi")
    os.mkfifo(root / "fifo")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read_file(root / "fifo")


def test_remove_file_is_idempotent_and_spares_changed_files(root: Path) -> None:
    (root / "x.edi").write_bytes(b"committed")
    digest = sha256_of(b"committed")
    (root / "x.edi").write_bytes(b"replaced by the partner since the poll")
    assert remove_file(root / "x.edi", expected_sha256=digest) is False
    assert (root / "x.edi").exists()
    (root / "x.edi").write_bytes(b"committed")
    assert remove_file(root / "x.edi", expected_sha256=digest) is True
    assert remove_file(root / "x.edi", expected_sha256=digest) is False
    assert remove_file(root / "x.edi") is False
    assert os.listdir(root) == []


def test_without_renameat2_the_fallback_keeps_the_same_contracts(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Filesystems without RENAME_NOREPLACE get check-then-rename with the same answers."""
    monkeypatch.setattr(files, "_renameat2", None)
    stage_file(root, "a.edi", b"a")
    assert publish_file(root, "a.edi") is True
    assert publish_file(root, "a.edi") is False
    stage_file(root, "a.edi", b"different")
    with pytest.raises(FileConflictError):
        publish_file(root, "a.edi")
    assert (root / "a.edi").read_bytes() == b"a"
    assert claim_file(root, "a.edi", "processing") == root.resolve() / "processing" / "a.edi"
    (root / "a.edi").write_bytes(b"again")
    with pytest.raises(FileConflictError):
        claim_file(root, "a.edi", "processing")
    assert claim_file(root, "gone.edi", "processing") is None


def test_sha256_of_is_hex_sha256() -> None:
    assert sha256_of(b"abc") == hashlib.sha256(b"abc").hexdigest()


# --- containment (T6) -------------------------------------------------------------------------

HOSTILE = ["../../etc/x", "/etc/x", "..\\x", "a\0b", "a\nb", "x" * 300, "../x", ".."]


@pytest.mark.battery("T6")
def test_no_operation_with_a_hostile_name_writes_outside_its_root(
    tmp_path: Path, root: Path, outside: Path, battery: Any
) -> None:
    """Every file operation refuses every hostile name; the tree outside the root is
    unchanged (snapshot before and after)."""
    (root / "processing").mkdir()
    (root / "ok.json").write_bytes(b"{}")
    (root / "escape").symlink_to(outside)
    before = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("root")}
    for name in HOSTILE:
        for operation in (
            lambda n: write_atomic(root, n, b"evil"),
            lambda n: stage_file(root, n, b"evil"),
            lambda n: publish_file(root, n),
            lambda n: claim_file(root, n, "processing"),
            lambda n: move_file(root / "ok.json", root / "processing", n),
            lambda n: staged_path(root, n),
        ):
            with pytest.raises(UnsafeNameError):
                operation(name)
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("root")}
    outside_changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert after == before
    battery.record(len(HOSTILE) * 6, what="hostile names x 6 file operations",
                   files_outside_root=len(outside_changed), refused=len(HOSTILE) * 6)  # fmt: skip


@pytest.mark.battery("T6")
def test_every_written_path_resolves_under_its_root(root: Path, battery: Any) -> None:
    """Every path the write, stage, claim and publish operations return resolves under the
    root."""
    written = [
        write_atomic(root, "a.json", b"a"),
        stage_file(root, "b.edi", b"b"),
        claim_file(root, "a.json", "processing"),
    ]
    publish_file(root, "b.edi")
    written.append(root / "b.edi")
    real_root = os.path.realpath(root)
    escaped = [p for p in written
               if p is None or not os.path.realpath(p).startswith(real_root + os.sep)]  # fmt: skip
    for path in written:
        assert path is not None
        assert os.path.realpath(path).startswith(real_root + os.sep)
        assert contained(root, path) == Path(os.path.realpath(path))
    assert escaped == []
    battery.record(len(written), what="paths written by write, stage, claim, publish",
                   files_outside_root=len(escaped))  # fmt: skip


def test_contained_refuses_paths_that_resolve_outside(root: Path, outside: Path) -> None:
    (root / "escape").symlink_to(outside / "target")
    with pytest.raises(UnsafePathError, match="outside"):
        contained(root, root / "escape")
    with pytest.raises(UnsafePathError, match="outside"):
        contained(root, root / ".." / "outside")
