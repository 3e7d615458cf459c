"""``printer-sync identify``: exit code and JSON against the real snmpd on loopback."""

from __future__ import annotations

import json
import socket

import pytest

from printer_sync.cli import main
from tests.support.net import free_port
from tests.support.printers import exit_code
from tests.support.snmpd import AGENTS, COMMUNITY


@pytest.mark.parametrize(("kind", "code"), [("epson", 0), ("hp", 1)])
def test_identify_command_exit_code_and_json(
    agents: dict[str, int], kind: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["identify", "127.0.0.1", "--port", str(agents[kind]), "--community", COMMUNITY]
    assert main([*argv, "--json"]) == code
    out = json.loads(capsys.readouterr().out)
    assert out["sys_descr"] == AGENTS[kind][0]
    assert out["driver"] == ("epson" if kind == "epson" else None)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--port", "0"], "--port"),
        (["--port", "65536"], "--port"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--retries", "11"], "--retries"),
        (["--retries", "-1"], "--retries"),
        ([], "host"),
    ],
)
def test_bad_options_exit_2_naming_them(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    host = [] if option == "host" else ["127.0.0.1"]
    assert exit_code(["identify", *host, *args]) == 2
    assert option in capsys.readouterr().err


def test_no_agent_is_exit_1_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port(kind=socket.SOCK_DGRAM)  # nothing answers there
    argv = ["identify", "127.0.0.1", "--port", str(port), "--timeout", "0.3", "--retries", "0"]
    assert exit_code(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith("error: ") and out.count("\n") == 1
