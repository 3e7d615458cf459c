from __future__ import annotations

import argparse
import io
import json
import logging
import subprocess
import sys

import pytest

from edgeward.cli import EXIT_USAGE, UsageError, run
from edgeward.config import ConfigError
from edgeward.logs import get_logger, setup_logging


def test_json_logs_carry_extra_fields() -> None:
    buf = io.StringIO()
    setup_logging("info", "json", stream=buf)
    get_logger("t").info("pushed %s", "printer1", extra={"printer": "printer1", "seconds": 1.5})
    line = json.loads(buf.getvalue().splitlines()[-1])
    assert line["msg"] == "pushed printer1"
    assert line["logger"] == "edgeward.t"
    assert line["printer"] == "printer1" and line["seconds"] == 1.5
    setup_logging("warning")
    assert logging.getLogger().level == logging.WARNING


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (ConfigError("f.toml", "a.b", "expected a string"), EXIT_USAGE, "f.toml: a.b: expected"),
        (UsageError("give a NAME or --all"), EXIT_USAGE, "give a NAME or --all"),
    ],
)
def test_run_maps_errors_to_exit_codes(
    capsys: pytest.CaptureFixture[str], exc: Exception, code: int, text: str
) -> None:
    def main(args: argparse.Namespace) -> int:
        raise exc

    assert run(main, argparse.Namespace()) == code
    assert text in capsys.readouterr().err


@pytest.mark.parametrize(
    "module",
    [
        "middleware.cli.signed_url",
        "middleware.cli.dpi_watch",
        "middleware.cli.dpi_report",
        "caldav_gateway",
        "printer_sync",
    ],
)
def test_every_entry_point_answers_help(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=150,  # a loaded machine once took >60 s
    )
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
