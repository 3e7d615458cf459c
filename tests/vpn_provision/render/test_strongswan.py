"""swanctl.conf: one connection per IKEv2 device, matched by its identity, with its own
pool addresses and strict revocation. (``test_ikev2_tunnel.py`` loads it into charon.)"""

from __future__ import annotations

import re

import pytest

from tests.support.vpn import HOST
from vpn_provision.render import snapshot, suites
from vpn_provision.render.strongswan import swanctl_conf
from vpn_provision.state import State


def _connection(conf: str, name: str) -> str:
    m = re.search(rf"^    {name} \{{\n(.*?)^    \}}\n", conf, re.S | re.M)
    assert m, f"no connection {name}"
    return m.group(1)


def test_only_active_ikev2_devices_get_a_connection(state: State) -> None:
    conf = swanctl_conf(snapshot(state))
    connections = conf.split("\npools {")[0]
    # alice: ios (both protocols); bob: WireGuard only; carol: removed
    assert re.findall(r"^    (\S+) \{$", connections, re.M) == ["alice"]
    assert conf.startswith("# swanctl.conf(5), rendered by vpn-provision")


@pytest.mark.parametrize(
    "line",
    [
        "version = 2",
        f"proposals = {suites.STRONGSWAN_IKE}",
        f"esp_proposals = {suites.STRONGSWAN_ESP}",
        f"id = {HOST}",
        f"id = alice@{HOST}",
        "revocation = strict",
        "pools = alice-v4, alice-v6",
        "local_ts = 0.0.0.0/0, ::/0",  # IPv6 too: no leak around the tunnel
    ],
)
def test_the_connection_of_a_device(state: State, line: str) -> None:
    assert line in _connection(swanctl_conf(snapshot(state)), "alice")


def test_pools_give_the_devices_own_addresses(state: State) -> None:
    conf = swanctl_conf(snapshot(state))
    alice = state.device("alice")
    s = state.settings
    assert _connection(conf, "alice-v4").split() == [
        "addrs",
        "=",
        f"{alice.address4}/32",
        "dns",
        "=",
        str(s.server4),
    ]
    assert _connection(conf, "alice-v6").split() == [
        "addrs",
        "=",
        f"{alice.address6}/128",
        "dns",
        "=",
        str(s.server6),
    ]
    assert "bob-v4" not in conf


def test_one_setting_per_line_as_swanctl_wants(state: State) -> None:
    for line in swanctl_conf(snapshot(state)).splitlines():
        assert ";" not in line
