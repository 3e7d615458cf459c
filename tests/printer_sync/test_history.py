"""The state database: rows, pins, CA imports, and crash recovery across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from printer_sync.history import History


def test_rows_round_trip_newest_first(tmp_path: Path) -> None:
    with History(tmp_path / "h.db") as h:
        a = h.start("office", old_fingerprint="AA")
        h.finish(a, "verified", new_fingerprint="BB", message="ok")
        b = h.start("lab")
        h.finish(b, "failed", error="wrong_password", message="login refused")
        rows = h.rows()
        assert [r.printer for r in rows] == ["lab", "office"]
        office = h.rows("office")[0]
        assert (office.old_fingerprint, office.new_fingerprint) == ("AA", "BB")
        assert office.duration is not None and office.duration >= 0
        assert office.ended is not None and office.ended >= office.started
        assert h.last("lab", "failed") == rows[0]
        assert h.last("lab", "verified") is None
        assert h.rows(limit=1) == rows[:1]
        assert list(h.iter_all()) == rows[::-1]


def test_pins_and_ca_imports(tmp_path: Path) -> None:
    with History(tmp_path / "h.db") as h:
        assert h.pin("office") is None
        h.set_pin("office", "AA", "first-use")
        h.set_pin("office", "BB", "pushed")
        pin = h.pin("office")
        assert pin is not None and (pin.fingerprint, pin.how) == ("BB", "pushed")
        assert h.forget_pin("office") and not h.forget_pin("office")
        h.record_ca("office", "CC")
        h.record_ca("office", "CC")
        assert h.imported_cas("office") == {"CC"} and h.imported_cas("lab") == set()
    assert (tmp_path / "h.db").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("finished", [False, True])
def test_a_killed_process_leaves_an_interrupted_row(tmp_path: Path, finished: bool) -> None:
    db = tmp_path / "h.db"
    code = textwrap.dedent(
        f"""
        import os
        from printer_sync.history import History
        h = History({str(db)!r})
        row = h.start("office", old_fingerprint="AA")
        if {finished}:
            h.finish(row, "verified")
        os._exit(9)  # no cleanup, as with SIGKILL or a power cut
        """
    )
    root = Path(__file__).parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=False, timeout=30)
    with History(db) as h:
        row = h.rows("office")[0]
        assert h.recovered == (0 if finished else 1)
    assert row.result == ("verified" if finished else "interrupted")
    assert row.old_fingerprint == "AA"


def test_a_live_process_keeps_its_running_row(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with History(db) as mine:
        row = mine.start("office")
        with History(db) as other:  # e.g. `push` while `watch` is mid-push
            assert other.recovered == 0
            assert other.rows("office")[0].result == "running"
        mine.finish(row, "verified")
