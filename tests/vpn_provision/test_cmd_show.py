"""`vpn-provision show`: one device; its secrets only with ``--secrets``."""

from __future__ import annotations

import json

import pytest

from tests.support.vpn import CLI
from vpn_provision.keys import wg_public_key
from vpn_provision.state import State

SECRETS = ("wg_private_key", "wg_preshared_key", "p12_password")


@pytest.mark.parametrize("secrets", [False, True])
def test_show_json(state: State, cli: CLI, secrets: bool) -> None:
    argv = ["show", "alice", "--state", str(state.root), "--json"]
    r = cli(*argv, *(["--secrets"] if secrets else []))
    assert r.code == 0, r.err
    shown = json.loads(r.out)
    assert shown["name"] == "alice" and shown["trusted_ssids"] == ["Home", "Home 5G"]
    for key in SECRETS:
        assert (key in shown) is secrets, key
    if secrets:
        device = state.device("alice")
        assert shown["wg_private_key"] == device.wg_private.reveal()
        assert wg_public_key(device.wg_private) == shown["wg_public_key"]


def test_show_text_never_prints_a_secret_unasked(state: State, cli: CLI) -> None:
    r = cli("show", "alice", "--state", str(state.root))
    assert r.code == 0 and "alice" in r.out
    device = state.device("alice")
    assert device.wg_private.reveal() not in r.out


@pytest.mark.parametrize("name", ["nobody", "carol"])  # carol was removed: gone for show
def test_unknown_or_removed_device_is_a_usage_error(state: State, cli: CLI, name: str) -> None:
    r = cli("show", name, "--state", str(state.root))
    assert r.code == 2 and f"no device named {name!r}" in r.err
    assert r.out == ""
