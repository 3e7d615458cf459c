"""`vpn-provision add`: a device with the next free addresses, its protocols and SSIDs."""

from __future__ import annotations

import json

import pytest

from tests.support.vpn import CLI
from vpn_provision.state import State


@pytest.mark.parametrize(
    ("extra", "protos", "ssids"),
    [
        (["--platform", "ios"], ["wireguard", "ikev2"], []),
        (["--platform", "linux", "--proto", "wireguard"], ["wireguard"], []),
        (["--platform", "macos", "--trusted-ssid", "Home", "--trusted-ssid", "Café"],
         None, ["Home", "Café"]),
    ],
)  # fmt: skip
def test_add_prints_the_device_without_its_secrets(
    state: State, cli: CLI, extra: list[str], protos: list[str] | None, ssids: list[str]
) -> None:
    r = cli("add", "dave", "--state", str(state.root), *extra, "--json")
    assert r.code == 0, r.err
    added = json.loads(r.out)
    assert added["name"] == "dave" and added["trusted_ssids"] == ssids
    if protos is not None:
        assert added["protos"] == protos
    # alice .2, bob .3, carol .4 (removed, never reused): dave gets .5
    assert added["address4"] == "10.77.0.5"
    assert "wg_private_key" not in r.out and "p12_password" not in r.out


def test_text_output_names_addresses_and_protocols(state: State, cli: CLI) -> None:
    r = cli(
        "add", "erin", "--state", str(state.root), "--platform", "android", "--proto", "wireguard"
    )
    assert r.code == 0, r.err
    assert r.out.startswith("added erin: 10.77.0.5, fd77::5") and "wireguard" in r.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["alice", "--platform", "ios"], "alice"),  # the name is taken
        (["Bad Name", "--platform", "ios"], "expected 1-32"),
        (["x", "--platform", "palm"], "--platform"),
        (["x", "--platform", "ios", "--proto", "pptp"], "--proto"),
        (["x"], "--platform"),
    ],
)
def test_refused_devices_exit_2_with_one_line(
    state: State, cli: CLI, argv: list[str], message: str
) -> None:
    r = cli("add", *argv, "--state", str(state.root))
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
