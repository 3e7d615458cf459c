"""The printer's password never shows: not in logs (debug, JSON), output, metrics,
exceptions, reprs, history rows (the database file itself), nor in ``--help``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest

from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.push import PushResult
from tests.support.printers import PASSWORD, PrinterEnv

pytestmark = pytest.mark.slow

COMMANDS = ("push", "history", "emulate", "status", "watch", "hook", "identify")


def test_password_never_leaks(printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = printer_env.config()
    debug = ["--log-level", "debug", "--log-format", "json"]
    seen: list[str] = []

    def run(*argv: str) -> int:
        code = main([argv[0], *debug, *argv[1:], "--config", str(cfg)])
        out, err = capsys.readouterr()
        seen.extend([out, err])
        return code

    assert run("push", "office") == 0  # the real login, upload and switch
    assert run("push", "office", "--force") == 0
    printer_env.emulator.faults.add("refuse-upload")
    assert run("push", "office", "--force") == 1
    printer_env.emulator.faults.clear()
    # a wrong password, then the emulator's lockout: the failure paths log the most
    printer_env.password_file.write_text(PASSWORD[::-1] + "\n")
    assert run("push", "office", "--force") == 1
    assert run("history") == 0
    assert run("history", "--json") == 0

    text = "\n".join(seen)
    assert '"logger": "edgeward.printer_sync.push"' in text  # the logs were captured
    assert "login" in text.lower()

    config = load_config(cfg)
    db = config.db_path
    dumped = "\n".join(sqlite3.connect(db).iterdump())
    raw_files = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    metrics = generate_latest(REGISTRY).decode()
    reprs = repr(config) + str(config) + repr(config.printers[0]) + str(config.printers[0].password)

    for where, blob in [
        ("output and logs", text),
        ("history (SQL dump)", dumped),
        ("metrics", metrics),
        ("reprs", reprs),
    ]:
        assert PASSWORD not in blob, where
        assert PASSWORD[::-1] not in blob, where
    assert PASSWORD.encode() not in raw_files and PASSWORD[::-1].encode() not in raw_files
    assert "edgeward_printer_push_total" in metrics


@pytest.mark.parametrize("command", COMMANDS)
def test_help_teaches_and_holds_no_secret(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFICE_PRINTER_PASSWORD", PASSWORD)
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out
    if command in ("push", "history", "emulate"):
        assert "examples:" in out and f"printer-sync {command}" in out


def test_push_error_messages_hold_no_password(printer_env: PrinterEnv) -> None:
    import asyncio

    from printer_sync.history import History
    from printer_sync.push import push_printer

    printer_env.password_file.write_text("wrong-" + PASSWORD + "\n")
    config = load_config(printer_env.config())
    with History(config.db_path) as h:
        result: PushResult = asyncio.run(push_printer(config.printers[0], history=h, settle=0.5))
    assert result.error == "wrong_password"
    assert PASSWORD not in repr(result) and PASSWORD not in result.message


def test_config_errors_never_show_the_password(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text(PASSWORD)
    cfg = tmp_path / "p.toml"
    cfg.write_text(
        '[[printer]]\nname = "office"\nurl = "https://127.0.0.1"\nkey = "k"\ncert = "c"\n'
        f'password_file = "{secret_file}"\npassword_env = "{PASSWORD}"\n'
    )
    with pytest.raises(ValueError, match="password") as exc:
        load_config(cfg)
    assert PASSWORD not in str(exc.value)
