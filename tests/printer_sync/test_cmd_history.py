"""``printer-sync history``: the rows and pins a push leaves."""

from __future__ import annotations

import pytest

from printer_sync.cli import main
from tests.printer_sync.conftest import PrinterEnv


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
