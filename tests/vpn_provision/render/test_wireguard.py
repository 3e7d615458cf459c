"""WireGuard files: IPv6 routes too, pre-shared keys in pairs, each client a server peer, wg-
quick keys stripped for ``wg setconf``."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.support.tools import require_tool
from tests.support.vpn import run_tool
from vpn_provision.render.wireguard import strip_wg_quick
from vpn_provision.state import State


def test_clients_route_ipv6_too(out: Path) -> None:
    for conf in out.glob("clients/*/*.conf"):
        allowed = re.search(r"^AllowedIPs = (.*)$", conf.read_text(), re.M)
        assert allowed is not None
        assert {a.strip() for a in allowed.group(1).split(",")} == {"0.0.0.0/0", "::/0"}


def test_wg_pubkey_of_each_client_is_a_server_peer(out: Path, state: State) -> None:
    wg = require_tool("wg", "wireguard-tools")
    server = (out / "server/linux/wg0.conf").read_text()
    hostname = (out / "server/openbsd/hostname.wg0").read_text()
    peers = re.findall(r"^PublicKey = (\S+)$", server, re.M)
    assert sorted(peers) == sorted(re.findall(r"wgpeer (\S+)", hostname))
    assert len(peers) == 2
    for conf in out.glob("clients/*/*.conf"):
        private = re.search(r"^PrivateKey = (\S+)$", conf.read_text(), re.M)
        assert private is not None
        pub = run_tool(wg, "pubkey", stdin=private.group(1) + "\n").stdout.strip()
        assert pub in peers
        # and the client points at the server's own public key
        server_private = re.search(r"^PrivateKey = (\S+)$", server, re.M)
        assert server_private is not None
        server_pub = run_tool(wg, "pubkey", stdin=server_private.group(1) + "\n").stdout.strip()
        assert f"PublicKey = {server_pub}" in conf.read_text()


def test_preshared_keys_pair_up(out: Path) -> None:
    server = strip_wg_quick((out / "server/linux/wg0.conf").read_text())
    for conf in out.glob("clients/*/*.conf"):
        psk = re.search(r"^PresharedKey = (\S+)$", conf.read_text(), re.M)
        assert psk is not None and f"PresharedKey = {psk.group(1)}" in server


@given(st.text(max_size=300))
def test_strip_wg_quick_is_idempotent_and_drops_only_wg_quick_keys(text: str) -> None:
    once = strip_wg_quick(text)
    assert strip_wg_quick(once) == once
    for line in once.splitlines():
        if "=" in line:
            assert line.split("=", 1)[0].strip().lower() not in {"address", "dns", "postup"}
