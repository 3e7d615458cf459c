"""What every subcommand shares: ``--state`` (or its environment variable), ``--json``,
help without empty defaults."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.support.vpn import CLI, INIT, make_state
from vpn_provision.common import (
    add_json_argument,
    add_state_argument,
    open_state,
    print_json,
    tidy_help,
)


def test_state_from_environment(tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VPN_PROVISION_STATE", str(tmp_path / "env"))
    assert cli("init", *INIT).code == 0
    assert (tmp_path / "env" / "settings.toml").exists()
    assert cli("add", "x", "--platform", "linux").code == 0


@pytest.mark.parametrize(
    ("flag", "env", "opened"),
    [("flag", None, "flag"), (None, "env", "env"), ("flag", "env", "flag")],  # the flag wins
)
def test_open_state_flag_then_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    env: str | None,
    opened: str,
) -> None:
    for name in ("flag", "env"):
        make_state(tmp_path / name).close()
    if env is None:
        monkeypatch.delenv("VPN_PROVISION_STATE", raising=False)
    else:
        monkeypatch.setenv("VPN_PROVISION_STATE", str(tmp_path / env))
    p = argparse.ArgumentParser()
    add_state_argument(p)
    args = p.parse_args(["--state", str(tmp_path / flag)] if flag else [])
    with open_state(args) as state:
        assert state.root == tmp_path / opened


def test_print_json_is_indented_with_a_final_newline(capsys: pytest.CaptureFixture[str]) -> None:
    print_json({"name": "alice", "n": [1, 2]})
    out = capsys.readouterr().out
    assert out.endswith("}\n") and "\n  " in out
    assert json.loads(out) == {"name": "alice", "n": [1, 2]}


def test_tidy_help_drops_empty_defaults_and_keeps_real_ones() -> None:
    p = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_state_argument(p)
    add_json_argument(p)
    p.add_argument("--port", type=int, default=51820, help="a port")
    tidy_help(p)
    text = p.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: 51820)" in text
