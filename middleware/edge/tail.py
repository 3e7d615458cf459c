"""Follow a log file like ``tail -F``: by name, across rotation and truncation.

:meth:`FileFollower.poll` returns the complete lines written since the last call, as one
``bytes`` block (each line ends in ``\\n``: the edge sensor scans whole blocks at once). It is
called on a timer (polling, as ``tail -F`` does where inotify is unavailable: the cost is
one ``stat`` per file per interval, and it works the same on every filesystem).

- **Start.** A file present at start is read from its end (old lines were counted by the
  previous run, or are history; ``from_start=True`` reads them); a file that appears
  later, or replaces a rotated one, is read from its first byte.
- **Rotation by rename** (logrotate's default, then ``nginx -s reopen``): the path now
  names another inode. nginx keeps writing to the old file until it reopens its logs, so
  the old file stays open and is drained for ``rotate_grace`` seconds after its last
  growth, while the new file is read too.
- **Truncation** (logrotate ``copytruncate``): the file is shorter than what was read;
  reading restarts at its beginning.
- **Partial last line**: kept until its newline arrives; nginx writes each line with one
  ``write()``, so a partial line is only ever seen mid-write, or cut by a crash. A partial
  line left in a rotated file when it is closed is returned as is (it then fails to
  parse and is counted as malformed, never silently dropped). A line longer than
  ``max_line`` is cut and returned in pieces, which fail to parse: memory stays bounded.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from edgeward.logs import get_logger

log = get_logger("middleware.edge.tail")

_READ: Final = 1 << 20  # bytes per read() call
_MAX_PER_POLL: Final = 16 << 20  # bytes per poll: a huge backlog is read over several polls


@dataclass
class _Open:
    fd: int
    ino: tuple[int, int]
    pos: int = 0
    partial: bytearray = field(default_factory=bytearray)
    last_growth: float = field(default_factory=time.monotonic)


class FileFollower:
    def __init__(
        self,
        path: str | Path,
        *,
        from_start: bool = False,
        rotate_grace: float = 5.0,
        max_line: int = 64 * 1024,
    ) -> None:
        self.path = Path(path)
        self.rotate_grace = rotate_grace
        self.max_line = max_line
        self.rotations = 0
        self.truncations = 0
        self._current: _Open | None = None
        self._old: list[_Open] = []
        self._first = not from_start  # the first open seeks to the end
        self._missing_logged = False

    def close(self) -> None:
        for f in [*self._old, *([self._current] if self._current else [])]:
            with contextlib.suppress(OSError):
                os.close(f.fd)
        self._old = []
        self._current = None

    def __enter__(self) -> FileFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self) -> bytes:
        """Complete lines written since the last poll, each ending in ``\\n`` (or ``b""``)."""
        lines: list[bytes] = []
        self._check_path()  # first: a file rotated since the last poll is drained below
        now = time.monotonic()
        for old in list(self._old):
            self._read(old, lines)
            if now - old.last_growth >= self.rotate_grace:
                if old.partial:
                    lines.append(bytes(old.partial) + b"\n")
                os.close(old.fd)
                self._old.remove(old)
        if self._current is not None:
            self._read(self._current, lines)
        return b"".join(lines)

    def _check_path(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._current is not None:
                log.info("log file %s was moved away; waiting for a new one", self.path)
                self._retire()
            elif not self._missing_logged:
                log.info("waiting for log file %s to appear", self.path)
                self._missing_logged = True
            self._first = False  # whatever appears now is new: read it whole
            return
        except OSError as exc:
            if not self._missing_logged:
                log.warning("cannot stat %s: %s", self.path, exc)
                self._missing_logged = True
            return
        ino = (st.st_dev, st.st_ino)
        cur = self._current
        if cur is not None and cur.ino == ino:
            if st.st_size < cur.pos:
                log.info("log file %s was truncated; reading from its start", self.path)
                self.truncations += 1
                cur.pos = 0
                cur.partial.clear()
            return
        if cur is not None:
            log.info("log file %s was rotated; following the new file", self.path)
            self.rotations += 1
            self._retire()
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if not self._missing_logged:
                log.warning("cannot open %s: %s", self.path, exc)
                self._missing_logged = True
            return
        st = os.fstat(fd)
        pos = st.st_size if self._first else 0
        self._first = False
        self._missing_logged = False
        self._current = _Open(fd, (st.st_dev, st.st_ino), pos)
        log.info("following %s from byte %d", self.path, pos)

    def _retire(self) -> None:
        if self._current is not None:
            self._current.last_growth = time.monotonic()
            self._old.append(self._current)
            self._current = None

    def _read(self, f: _Open, lines: list[bytes]) -> None:
        budget = _MAX_PER_POLL
        while budget > 0:
            try:
                data = os.pread(f.fd, min(_READ, budget), f.pos)
            except OSError as exc:
                log.warning("cannot read %s: %s", self.path, exc)
                return
            if not data:
                return
            f.pos += len(data)
            budget -= len(data)
            f.last_growth = time.monotonic()
            self._split(f, data, lines)

    def _split(self, f: _Open, data: bytes, lines: list[bytes]) -> None:
        end = data.rfind(b"\n")
        if end < 0:
            f.partial += data
        else:
            if f.partial:
                f.partial += data[: end + 1]
                chunk = bytes(f.partial)
                f.partial.clear()
            else:
                chunk = data[: end + 1]
            lines.append(chunk)
            f.partial += data[end + 1 :]
        while len(f.partial) > self.max_line:
            lines.append(bytes(f.partial[: self.max_line]) + b"\n")
            del f.partial[: self.max_line]
