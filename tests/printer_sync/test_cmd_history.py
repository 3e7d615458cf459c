"""``printer-sync history``: the rows and pins a push leaves."""

from __future__ import annotations

import json

import pytest

from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.history import History
from tests.support.printers import PrinterEnv


def test_history_command_lists_rows_and_pins(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config()
    assert main(["push", "office", "--config", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["history", "office", "--config", str(cfg)]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["history", "--pins", "--config", str(cfg)]) == 0
    assert printer_env.files.fingerprint in capsys.readouterr().out
    assert main(["history", "--forget-pin", "office", "--config", str(cfg)]) == 0
    assert main(["history", "--forget-pin", "office", "--config", str(cfg)]) == 1


OLD = "AA:" * 31 + "01"
NEW = "BB:" * 31 + "02"


@pytest.mark.parametrize(
    ("result", "old", "new", "error", "shown"),
    [
        ("verified", OLD, NEW, None, "AA:AA:AA:AA…AA:01 → BB:BB:BB:BB…BB:02"),
        ("skipped_unchanged", None, NEW, None, "BB:BB:BB:BB…BB:02 (unchanged)"),
        ("failed", OLD, NEW, "wrong_password",
         "AA:AA:AA:AA…AA:01, tried BB:BB:BB:BB…BB:02 [wrong_password]"),
        ("failed", OLD, None, "unreachable", "AA:AA:AA:AA…AA:01 (unchanged) [unreachable]"),
    ],
)  # fmt: skip
def test_a_row_says_what_changed(
    printer_env: PrinterEnv,
    capsys: pytest.CaptureFixture[str],
    result: str,
    old: str | None,
    new: str | None,
    error: str | None,
    shown: str,
) -> None:
    cfg = printer_env.config()
    with History(load_config(cfg).db_path) as h:
        row = h.start("office", old_fingerprint=old, new_fingerprint=new)
        h.finish(row, result, error=error, message="a sentence")
    assert main(["history", "--config", str(cfg)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert f"office           {result:<17}" in line
    assert shown in line and line.endswith("a sentence")


def test_names_limit_json_and_an_empty_history(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config([printer_env.printer(), printer_env.printer(name="lobby")])
    assert main(["history", "--config", str(cfg)]) == 0
    assert "no pushes recorded yet" in capsys.readouterr().err
    with History(load_config(cfg).db_path) as h:
        for name in ("office", "lobby", "office"):
            h.finish(h.start(name), "verified")
    assert main(["history", "office", "--config", str(cfg), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["printer"] for r in rows] == ["office", "office"]
    assert rows[0]["id"] > rows[1]["id"]  # newest first
    assert main(["history", "--config", str(cfg), "--limit", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["history", "--pins", "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"printer": "office"}, {"printer": "lobby"}]
