"""Pins and push history in SQLite, crash-safe.

A push writes its row as ``running`` before it sends anything and finishes it at the
end; a process killed mid-push leaves the ``running`` row behind, and the next
:class:`History` opened on the file turns it into ``interrupted`` (only when the process
that wrote it is gone: a ``watch`` daemon and a manual ``push`` may share the file).
Rows hold fingerprints, kinds and messages, never a password.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

from edgeward.config import ConfigError

RUNNING: Final = "running"
INTERRUPTED: Final = "interrupted"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS pins (
    printer TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    pinned_at REAL NOT NULL,
    how TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    printer TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    result TEXT NOT NULL,
    old_fingerprint TEXT,
    new_fingerprint TEXT,
    duration REAL,
    error TEXT,
    message TEXT,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ca_imports (
    printer TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    imported_at REAL NOT NULL,
    PRIMARY KEY (printer, fingerprint)
);
CREATE INDEX IF NOT EXISTS pushes_printer ON pushes (printer, started);
"""


@dataclass(frozen=True)
class HistoryRow:
    id: int
    printer: str
    started: float
    ended: float | None
    result: str  # running, interrupted, verified, skipped_unchanged, failed
    old_fingerprint: str | None
    new_fingerprint: str | None
    duration: float | None
    error: str | None  # an ErrorKind value when result is failed
    message: str | None


@dataclass(frozen=True)
class Pin:
    printer: str
    fingerprint: str
    pinned_at: float
    how: str  # first-use, pushed, operator


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class History:
    """The state file. Cheap to open; one instance per process is enough."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread off: the daemon may read from a worker thread; each call is
            # one statement in autocommit mode, which sqlite serialises.
            db = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db = db
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
            self.recovered = self._recover()
        except (OSError, sqlite3.Error) as exc:
            # A folder where the file should be, a file that is not SQLite, a read-only or
            # missing state_dir: the operator's to fix (exit 2), not a crash.
            if db is not None:
                db.close()
            raise ConfigError(
                str(self.path),
                "",
                f"cannot use this as the state database (state_dir / database): {exc}",
            ) from None

    def _recover(self) -> int:
        """Mark rows left ``running`` by a process that no longer exists."""
        stale = [
            (row_id, pid)
            for row_id, pid in self._db.execute(
                "SELECT id, pid FROM pushes WHERE result = ?", (RUNNING,)
            )
            if not _alive(pid)
        ]
        for row_id, _ in stale:
            self._db.execute(
                "UPDATE pushes SET result = ?, message = ? WHERE id = ? AND result = ?",
                (INTERRUPTED, "the push was killed before it finished", row_id, RUNNING),
            )
        return len(stale)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # pins

    def pin(self, printer: str) -> Pin | None:
        row = self._db.execute(
            "SELECT printer, fingerprint, pinned_at, how FROM pins WHERE printer = ?", (printer,)
        ).fetchone()
        return Pin(*row) if row else None

    def set_pin(self, printer: str, fingerprint: str, how: str) -> None:
        self._db.execute(
            "INSERT INTO pins (printer, fingerprint, pinned_at, how) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (printer) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "pinned_at = excluded.pinned_at, how = excluded.how",
            (printer, fingerprint, time.time(), how),
        )

    def forget_pin(self, printer: str) -> bool:
        return self._db.execute("DELETE FROM pins WHERE printer = ?", (printer,)).rowcount > 0

    # CA certificates imported into a printer's store (so unchanged runs need no login)

    def imported_cas(self, printer: str) -> set[str]:
        rows = self._db.execute("SELECT fingerprint FROM ca_imports WHERE printer = ?", (printer,))
        return {str(r[0]) for r in rows}

    def record_ca(self, printer: str, fingerprint: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO ca_imports (printer, fingerprint, imported_at) "
            "VALUES (?, ?, ?)",
            (printer, fingerprint, time.time()),
        )

    # pushes

    def start(
        self,
        printer: str,
        *,
        old_fingerprint: str | None = None,
        new_fingerprint: str | None = None,
    ) -> int:
        cur = self._db.execute(
            "INSERT INTO pushes (printer, started, result, old_fingerprint, new_fingerprint, pid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (printer, time.time(), RUNNING, old_fingerprint, new_fingerprint, os.getpid()),
        )
        return int(cur.lastrowid or 0)

    def note(self, row_id: int, *, old_fingerprint: str | None, new_fingerprint: str) -> None:
        """Record what a running push is about to send (before it sends it), so that a
        push killed mid-way still names the certificate the printer may come back with."""
        self._db.execute(
            "UPDATE pushes SET old_fingerprint = ?, new_fingerprint = ? WHERE id = ?",
            (old_fingerprint, new_fingerprint, row_id),
        )

    def pushed(self, printer: str, fingerprint: str) -> bool:
        """Whether one of our pushes to ``printer`` carried ``fingerprint`` (whatever its
        outcome): a certificate whose key we held is ours, never a printer's replacement."""
        row = self._db.execute(
            "SELECT 1 FROM pushes WHERE printer = ? AND new_fingerprint = ? LIMIT 1",
            (printer, fingerprint),
        ).fetchone()
        return row is not None

    def finish(
        self,
        row_id: int,
        result: str,
        *,
        old_fingerprint: str | None = None,
        new_fingerprint: str | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> None:
        now = time.time()
        self._db.execute(
            "UPDATE pushes SET ended = ?, result = ?, duration = ? - started, "
            "old_fingerprint = COALESCE(?, old_fingerprint), "
            "new_fingerprint = COALESCE(?, new_fingerprint), error = ?, message = ? WHERE id = ?",
            (now, result, now, old_fingerprint, new_fingerprint, error, message, row_id),
        )

    def rows(self, printer: str | None = None, *, limit: int = 50) -> list[HistoryRow]:
        """Newest first."""
        sql = "SELECT * FROM pushes"
        args: tuple[object, ...] = ()
        if printer is not None:
            sql += " WHERE printer = ?"
            args = (printer,)
        sql += " ORDER BY id DESC LIMIT ?"
        return [_row(r) for r in self._db.execute(sql, (*args, limit))]

    def last(self, printer: str, result: str | None = None) -> HistoryRow | None:
        """The newest row of ``printer`` (with ``result`` if given)."""
        sql = "SELECT * FROM pushes WHERE printer = ?"
        args: tuple[object, ...] = (printer,)
        if result is not None:
            sql += " AND result = ?"
            args = (*args, result)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return _row(row) if row else None

    def iter_all(self) -> Iterator[HistoryRow]:
        for r in self._db.execute("SELECT * FROM pushes ORDER BY id"):
            yield _row(r)


def _row(r: tuple[object, ...]) -> HistoryRow:
    return HistoryRow(*r[:10])  # type: ignore[arg-type]
