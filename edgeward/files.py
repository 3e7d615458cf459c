"""Files written whole: a reader sees the old file or the new one, never half of one.

Kept apart from :mod:`edgeward.pki` so a tool without the ``cryptography`` extra (dpi-report
writing a ``--partial``) can use it.

A file replaced by a rename survives a crash whole only if its data reached the disk
before the rename did: :func:`atomic_write` fsyncs each file first. Writing thousands at
once (a VPN render: ~5,700 files), one fsync each is one journal commit each; on Linux
:func:`atomic_write_many` makes all of them durable with one ``syncfs`` before renaming
any, the same guarantee for one commit.
"""

from __future__ import annotations

import ctypes
import os
import platform
import secrets
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Final


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.
    ``durable=False`` skips the fsync: after a crash the file may be empty or hold
    garbage (only for data the reader checks and can make again, such as a cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temporary(path, data, mode, fsync=durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_many(files: Sequence[tuple[Path, bytes, int]]) -> None:
    """Write each ``(path, data, mode)`` as :func:`atomic_write` would, with one durability
    barrier for all: every temporary is written, then made durable (Linux: one ``syncfs``
    per file system; elsewhere one fsync each), and only then renamed; on Linux a second
    ``syncfs`` makes the renames durable before this returns. On an error no temporary is
    left and no file has been replaced."""
    folders = {os.fspath(p.parent) for p, _, _ in files}
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    syncfs = _syncfs()
    temporaries: list[str] = []
    try:
        for path, data, mode in files:
            temporaries.append(_write_temporary(path, data, mode, fsync=syncfs is None))
        if syncfs is not None:
            syncfs(folders)
    except BaseException:
        for tmp in temporaries:
            Path(tmp).unlink(missing_ok=True)
        raise
    for (path, _, _), tmp in zip(files, temporaries, strict=True):
        os.replace(tmp, path)
    if syncfs is not None:
        syncfs(folders)


_CREATE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _write_temporary(path: Path, data: bytes, mode: int, *, fsync: bool) -> str:
    """``data`` in a new file beside ``path`` (a hidden, random name), with ``mode``.
    Plain ``os`` calls: tempfile.mkstemp and a buffered file cost ~40 us more a file,
    and a render writes ~5,700."""
    for _ in range(100):  # a name taken (a left-over temporary) is tried again
        tmp = os.path.join(os.path.dirname(path), f".{path.name}.{secrets.token_hex(6)}")
        try:
            fd = os.open(tmp, _CREATE | os.O_CLOEXEC, 0o600)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 random 48-bit names taken
        raise FileExistsError(f"no free temporary name beside {path}")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp


@cache
def _syncfs() -> Callable[[set[str]], None] | None:
    """``syncfs(2)`` of every file system holding one of the folders, or None where it
    is missing or unreliable: before Linux 5.8 it reported no writeback error."""
    if sys.platform != "linux":
        return None
    try:
        major, minor = (int(x) for x in platform.release().split(".")[:2])
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (ValueError, OSError, AttributeError):
        return None
    if (major, minor) < (5, 8):
        return None

    def syncfs(folders: set[str]) -> None:
        one_each = {os.stat(folder).st_dev: folder for folder in folders}
        for folder in one_each.values():
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if call(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"syncfs: {os.strerror(err)}", str(folder))
            finally:
                os.close(fd)

    return syncfs
