"""``printer-sync identify``: exit code and JSON against the real snmpd on loopback."""

from __future__ import annotations

import json

import pytest

from printer_sync.cli import main
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
