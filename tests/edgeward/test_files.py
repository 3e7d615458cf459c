"""atomic_write: the old file or the new one, never half; its mode; no temporary left."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edgeward.files import atomic_write


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
