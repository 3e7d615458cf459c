"""`vpn-provision remove`: a device leaves the active list; its serial is what the CRL lists."""

from __future__ import annotations

import json

import pytest

from tests.support.vpn import CLI
from vpn_provision.state import State


def test_remove_json_names_the_revoked_serial(state: State, cli: CLI) -> None:
    serial = state.device("bob").serial
    r = cli("remove", "bob", "--state", str(state.root), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"removed": "bob", "cert_serial": format(serial, "x")}
    listed = json.loads(cli("list", "--state", str(state.root), "--json").out)
    assert [d["name"] for d in listed] == ["alice"]


def test_remove_text_says_what_to_do_next(state: State, cli: CLI) -> None:
    r = cli("remove", "alice", "--state", str(state.root))
    assert r.code == 0 and "render and reload the server" in r.out


@pytest.mark.parametrize("name", ["nobody", "carol"])  # carol is already removed
def test_nothing_to_remove_is_a_usage_error(state: State, cli: CLI, name: str) -> None:
    r = cli("remove", name, "--state", str(state.root))
    assert r.code == 2 and name in r.err and "Traceback" not in r.err
