"""FileFollower behaves like ``tail -F`` on a real file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from middleware.edge.tail import FileFollower


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def test_existing_file_is_read_from_its_end(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"old 1\nold 2\n")
    with FileFollower(log) as f:
        assert f.poll() == b""
        append(log, b"new 1\n")
        assert f.poll() == b"new 1\n"


def test_from_start_reads_existing_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"old 1\nold 2\n")
    with FileFollower(log, from_start=True) as f:
        assert f.poll() == b"old 1\nold 2\n"


def test_file_appearing_later_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    with FileFollower(log) as f:
        assert f.poll() == b""
        log.write_bytes(b"first\nsecond\n")
        assert f.poll() == b"first\nsecond\n"


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with FileFollower(log) as f:
        f.poll()
        append(log, b"complete\npart")
        assert f.poll() == b"complete\n"
        assert f.poll() == b""
        append(log, b"ial\n")
        assert f.poll() == b"partial\n"


def test_rotation_by_rename_drains_the_old_file_and_follows_the_new(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with FileFollower(log, rotate_grace=0.0) as f:
        f.poll()
        append(log, b"a\n")
        os.rename(log, tmp_path / "access.log.1")
        # nginx still writes to the renamed file until it reopens its logs
        append(tmp_path / "access.log.1", b"b\n")
        log.write_bytes(b"c\n")
        assert f.poll() == b"a\nb\nc\n"
        assert f.rotations == 1
        append(log, b"d\n")
        assert f.poll() == b"d\n"


def test_partial_line_left_in_a_rotated_file_is_returned_not_lost(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with FileFollower(log, rotate_grace=0.0) as f:
        f.poll()
        append(log, b"cut off")
        assert f.poll() == b""
        os.rename(log, tmp_path / "access.log.1")
        assert f.poll() == b"cut off\n"  # grace over: closed, the fragment handed on


def test_rotated_file_is_drained_during_its_grace_time(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    old = tmp_path / "access.log.1"
    log.write_bytes(b"")
    with FileFollower(log, rotate_grace=60.0) as f:
        f.poll()
        os.rename(log, old)
        assert f.poll() == b""
        append(old, b"late line\n")  # written before nginx reopened its log
        log.write_bytes(b"new file\n")
        assert f.poll() == b"late line\nnew file\n"


def test_truncation_restarts_at_the_beginning(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with FileFollower(log) as f:
        f.poll()
        append(log, b"one\ntwo\n")
        assert f.poll() == b"one\ntwo\n"
        with log.open("r+b") as fh:  # logrotate copytruncate
            fh.truncate(0)
        append(log, b"3\n")
        assert f.poll() == b"3\n"
        assert f.truncations == 1


@pytest.mark.parametrize("max_line", [8, 100])
def test_an_overlong_line_is_cut_so_memory_stays_bounded(tmp_path: Path, max_line: int) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with FileFollower(log, max_line=max_line) as f:
        f.poll()
        append(log, b"x" * 250)
        out = f.poll()
        assert out.count(b"\n") == 250 // max_line
        assert all(len(piece) == max_line for piece in out.split(b"\n")[:-1])
