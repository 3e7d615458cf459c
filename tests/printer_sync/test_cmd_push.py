"""``printer-sync push`` as a command: --json, --dry-run leaves no trace, help text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printer_sync.cli import main
from tests.support.printers import PrinterEnv, exit_code

pytestmark = pytest.mark.slow


def test_json_gives_one_object_per_printer(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config()
    assert main(["push", "office", "--json", "--config", str(cfg)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["printer"] == "office" and result["result"] == "verified"
    assert result["new_fingerprint"] == printer_env.files.fingerprint
    assert result["error"] is None and result["duration"] > 0


def test_dry_run_creates_nothing_on_disk(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config()
    before = sorted(p.relative_to(printer_env.tmp) for p in printer_env.tmp.rglob("*"))
    assert main(["push", "office", "--dry-run", "--config", str(cfg)]) == 0
    after = sorted(p.relative_to(printer_env.tmp) for p in printer_env.tmp.rglob("*"))
    assert after == before  # no state folder, no database
    assert "dry_run" in capsys.readouterr().out


def test_a_failed_push_does_not_claim_a_change_in_history(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config()
    assert main(["push", "office", "--config", str(cfg)]) == 0
    printer_env.emulator.faults.add("refuse-upload")
    assert main(["push", "office", "--force", "--config", str(cfg)]) == 1
    capsys.readouterr()
    assert main(["history", "office", "--config", str(cfg)]) == 0
    failed, verified = capsys.readouterr().out.splitlines()[:2]
    assert "upload_refused" in failed and "→" not in failed and "tried" in failed
    assert "verified" in verified and "→" in verified


def test_status_on_an_empty_printers_file_exits_like_push_and_watch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    codes = {}
    for argv in (["status"], ["push", "--all"], ["watch"]):
        codes[argv[0]] = exit_code([*argv, "--config", str(empty)])
        assert "no [[printer]] table" in capsys.readouterr().err
    assert codes == {"status": 2, "push": 2, "watch": 2}


@pytest.mark.parametrize(
    "command", ["", "status", "push", "watch", "hook", "history", "emulate", "identify"]
)
def test_help_has_no_doubled_or_empty_defaults(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: [])" not in text and "(default: )" not in text
    assert not any(line.count("default") > 1 for line in text.splitlines())
    for placeholder in ("CONFIG", "STATE_DIR", "PASSWORD_FILE", "LISTEN", "METRICS_LISTEN"):
        assert f" {placeholder}" not in text  # FILE, DIR, HOST:PORT instead
    if not command:
        assert "examples:" in text and "exit codes:" in text


def test_an_unknown_flag_is_named_as_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["status", "--config", "x", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "printer-sync status: error: unknown option '--bogus'" in err


def test_the_emulator_logs_its_start_once(tmp_path: Path) -> None:
    log = tmp_path / "emulate.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "printer_sync",
                "emulate",
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
                str(tmp_path / "state"),
                "--password",
                "x",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        try:
            end = time.monotonic() + 60
            while b"emulated Epson printer on" not in log.read_bytes():
                assert time.monotonic() < end and proc.poll() is None, log.read_text()
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(10)
    assert log.read_text().count("emulated Epson printer on") == 1
