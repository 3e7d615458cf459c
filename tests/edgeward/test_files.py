"""atomic_write: the old file or the new one, never half; its mode; no temporary left."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edgeward.files import atomic_write
from tests.support.tools import in_ci


@pytest.mark.parametrize(
    ("mode", "data"), [(0o600, b"secret"), (0o644, b""), (0o640, b"x" * 70000)]
)
def test_the_file_holds_the_data_with_its_mode(tmp_path: Path, mode: int, data: bytes) -> None:
    path = tmp_path / "sub" / "f"
    atomic_write(path, b"old")
    atomic_write(path, data, mode=mode)
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert sorted(p.name for p in path.parent.iterdir()) == ["f"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"old")
    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_it_needs_no_cryptography() -> None:
    # dpi-report --partial writes with it in an install without the crypto extras.
    code = "import sys; sys.modules['cryptography'] = None; import edgeward.files"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# atomic_write_many: one durability barrier for many files (a VPN render writes ~5,700).


@pytest.mark.parametrize("barrier", ["syncfs", "fsync each"])
def test_many_files_hold_their_data_and_modes(
    tmp_path: Path, barrier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeward import files

    if barrier == "fsync each":  # as on systems without a reliable syncfs
        monkeypatch.setattr(files, "_syncfs", lambda: None)
    elif files._syncfs() is None:
        if in_ci():  # CI's Linux has it: its absence there is a failure, not a skip
            pytest.fail("no reliable syncfs here (Linux >= 5.8)")
        pytest.skip("no reliable syncfs here (Linux >= 5.8)")
    old = tmp_path / "a" / "old"
    atomic_write(old, b"before")
    wanted = {
        old: (b"after", 0o600),
        tmp_path / "a" / "new": (b"", 0o644),
        tmp_path / "b" / "c" / "deep": (b"x" * 70000, 0o640),
    }
    files.atomic_write_many([(p, d, m) for p, (d, m) in wanted.items()])
    for path, (data, mode) in wanted.items():
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == mode
    left = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["deep", "new", "old"]  # no temporary left


def test_the_barrier_comes_before_any_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes a crash safe: when the barrier runs, every temporary is written whole
    and no target has been replaced yet."""
    from edgeward import files

    seen: list[tuple[bytes, list[bytes]]] = []

    def barrier(folders: set[Path]) -> None:
        temporaries = sorted(p.read_bytes() for p in tmp_path.glob(".t.*"))
        seen.append(((tmp_path / "t").read_bytes(), temporaries))

    monkeypatch.setattr(files, "_syncfs", lambda: barrier)
    atomic_write(tmp_path / "t", b"old")
    files.atomic_write_many([(tmp_path / "t", b"new", 0o644)])
    assert seen[0] == (b"old", [b"new"])  # data written, target untouched
    assert seen[1][0] == b"new"  # a second barrier after the renames
    assert (tmp_path / "t").read_bytes() == b"new"


def test_a_failed_batch_replaces_nothing_and_leaves_no_temporary(tmp_path: Path) -> None:
    from edgeward import files

    atomic_write(tmp_path / "a", b"old")
    with pytest.raises(TypeError):
        files.atomic_write_many(
            [(tmp_path / "a", b"new", 0o644), (tmp_path / "b", "not bytes", 0o644)],  # type: ignore[list-item]
        )
    assert (tmp_path / "a").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_syncfs_is_used_only_where_it_reports_errors() -> None:
    import platform

    from edgeward import files

    release = tuple(int(x) for x in platform.release().split(".")[:2])
    assert (files._syncfs() is not None) == (sys.platform == "linux" and release >= (5, 8))
