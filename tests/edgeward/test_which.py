"""Finding a system tool: on PATH first, then in the sbin folders a non-root PATH lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

import edgeward.which as which


def _tool(folder: Path, name: str, mode: int = 0o755) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("on_path", "in_sbin", "found"),
    [
        (0o755, None, "path"),
        (None, 0o755, "sbin"),
        (0o755, 0o755, "path"),  # PATH wins, as in a shell
        (0o644, 0o755, "sbin"),  # not executable: not a tool
        (0o644, None, None),
        (None, None, None),
    ],
)
def test_find_tool(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    on_path: int | None,
    in_sbin: int | None,
    found: str | None,
) -> None:
    name = f"edgeward-which-test-{id(tmp_path)}"
    path_dir, sbin_dir = tmp_path / "bin", tmp_path / "sbin"
    path_dir.mkdir()
    sbin_dir.mkdir()
    made = {}
    if on_path is not None:
        made["path"] = _tool(path_dir, name, on_path)
    if in_sbin is not None:
        made["sbin"] = _tool(sbin_dir, name, in_sbin)
    monkeypatch.setattr(which, "SBIN_DIRS", (str(sbin_dir),))
    got = which.find_tool(name, path=str(path_dir))
    assert got == (str(made[found]) if found else None)


def test_the_default_path_is_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = _tool(tmp_path, "edgeward-which-env-test")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(which, "SBIN_DIRS", ())
    assert which.find_tool(tool.name) == str(tool)


def test_sbin_folders_are_the_debian_ones() -> None:
    assert set(which.SBIN_DIRS) >= {"/usr/sbin", "/sbin"}
