"""The command line as a whole: a device's life through init/add/list/show/remove, usage
errors in one line, --help. Each subcommand's own tests: ``test_cmd_<name>.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.vpn import CLI, INIT
from vpn_provision.cli import SUBCOMMANDS


def test_init_add_list_show_remove(tmp_path: Path, cli: CLI) -> None:
    s = str(tmp_path / "st")
    assert cli("init", "--state", s, *INIT, "--os", "openbsd").code == 0
    r = cli("add", "phone", "--state", s, "--platform", "ios", "--trusted-ssid", "Home", "--json")
    assert r.code == 0, r.err
    added = json.loads(r.out)
    assert added["address4"] == "10.77.0.2" and added["trusted_ssids"] == ["Home"]
    listed = json.loads(cli("list", "--state", s, "--json").out)
    assert [d["name"] for d in listed] == ["phone"]
    shown = json.loads(cli("show", "phone", "--state", s, "--json").out)
    assert "wg_private_key" not in shown and "p12_password" not in shown
    secret = json.loads(cli("show", "phone", "--state", s, "--json", "--secrets").out)
    assert len(secret["wg_private_key"]) == 44 and secret["p12_password"]
    assert cli("remove", "phone", "--state", s).code == 0
    assert json.loads(cli("list", "--state", s, "--json").out) == []
    gone = json.loads(cli("list", "--state", s, "--json", "--all").out)
    assert gone[0]["removed"] is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["init", *INIT[:2], "--net4", "10.0.0.0/30", "--net6", "fd77::/64"], "--net4"),
        (["init", "--host", "localhost", *INIT[2:]], "--host"),
        (["init", *INIT[:4], "--net6", "10.0.0.0/24"], "--net6"),
        (["add", "x", "--platform", "ios"], "not a vpn-provision state"),
        (["add", "Bad Name", "--platform", "ios"], "expected 1-32"),
        (["show", "nobody"], "no device"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, cli: CLI, argv: list[str], message: str
) -> None:
    state = tmp_path / ("st" if argv[0] == "init" else "missing")
    if argv[0] != "init" and message != "not a vpn-provision state":
        assert cli("init", "--state", str(state), *INIT).code == 0
    r = cli(*argv, "--state", str(state))
    assert r.code == 2
    assert message in r.err and "Traceback" not in r.err
    assert r.err.count("\n") == 1


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_is_clean(cli: CLI, command: str | None) -> None:
    r = cli(*([command] if command else []), "--help")
    assert r.code == 0
    assert "(default: None)" not in r.out
    assert "examples:" in r.out or command in ("list",)
    if command is None:
        assert "exit codes" in r.out


def test_unknown_flag_is_named(cli: CLI) -> None:
    r = cli("list", "--frobnicate")
    assert r.code == 2 and "--frobnicate" in r.err
