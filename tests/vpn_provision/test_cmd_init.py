"""`vpn-provision init`: a new state directory, its settings checked and named, never twice."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.support.vpn import CLI, INIT
from vpn_provision.state import State


@pytest.mark.parametrize(
    ("extra", "os_name", "interface"),
    [
        ([], "linux", "eth0"),
        (["--os", "openbsd", "--external-interface", "vio0"], "openbsd", "vio0"),
    ],
)
def test_init_writes_the_settings_it_was_given(
    tmp_path: Path, cli: CLI, extra: list[str], os_name: str, interface: str
) -> None:
    root = tmp_path / "st"
    r = cli("init", "--state", str(root), *INIT, "--wg-port", "51999", *extra, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["host"] == "vpn.example.org"
    with State(root) as st:
        s = st.settings
        assert (s.host, s.os, s.wg_port, s.external_interface) == (
            "vpn.example.org",
            os_name,
            51999,
            interface,
        )
        assert str(s.net4) == "10.77.0.0/24" and str(s.net6) == "fd77::/64"
    assert stat.S_IMODE(root.stat().st_mode) & 0o077 == 0  # keys inside: owner only


def test_init_twice_refuses(tmp_path: Path, cli: CLI) -> None:
    s = str(tmp_path / "st")
    assert cli("init", "--state", s, *INIT).code == 0
    r = cli("init", "--state", s, *INIT)
    assert r.code == 2 and "refusing" in r.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*INIT[:2], "--net4", "10.0.0.0/30", "--net6", "fd77::/64"], "--net4"),
        (["--host", "localhost", *INIT[2:]], "--host"),
        ([*INIT[:4], "--net6", "10.0.0.0/24"], "--net6"),
        ([*INIT, "--wg-port", "0"], "--wg-port"),
        ([*INIT, "--wg-port", "x"], "--wg-port"),
        ([*INIT, "--os", "windows"], "--os"),
        (INIT[2:], "--host"),
    ],
)
def test_bad_settings_exit_2_naming_the_option(
    tmp_path: Path, cli: CLI, argv: list[str], message: str
) -> None:
    r = cli("init", "--state", str(tmp_path / "st"), *argv)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
    assert not (tmp_path / "st" / "settings.toml").exists()
