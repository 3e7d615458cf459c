"""A real WireGuard tunnel with the rendered files: wireguard-go in two network
namespaces, a handshake, TCP over IPv4 and IPv6 through it; and a removed device that can
no longer complete a handshake once the server has the next render."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.netns import Pair, namespace_pair, wait_for
from tests.support.tools import require_tool
from tests.support.vpn import CONNECT, ECHO, PORT
from vpn_provision.render import render, snapshot
from vpn_provision.render.wireguard import strip_wg_quick
from vpn_provision.state import State

pytestmark = pytest.mark.slow


class WG:
    def __init__(self, pair: Pair, tmp: Path) -> None:
        self.pair = pair
        self.tmp = tmp
        self.wg = require_tool("wg", "wireguard-tools")
        self.wggo = require_tool("wireguard-go", "wireguard-go")
        self.procs: dict[str, object] = {}

    def up(self, ns: str, ifname: str, conf: str, addrs: list[str], *, default: bool) -> None:
        sock = Path(f"/var/run/wireguard/{ifname}.sock")
        p = self.pair.spawn(ns, self.wggo, "-f", ifname)
        self.procs[ifname] = p
        wait_for(sock.exists, f"wireguard-go's socket {sock}")
        self.setconf(ns, ifname, conf)
        for a in addrs:
            self.pair.exec(ns, "ip", "addr", "add", a, "dev", ifname)
        self.pair.exec(ns, "ip", "link", "set", ifname, "up")
        if default:  # the whole client, both families, through the tunnel
            self.pair.exec(ns, "ip", "route", "add", "default", "dev", ifname)
            self.pair.exec(ns, "ip", "-6", "route", "add", "default", "dev", ifname)

    def down(self, ifname: str) -> None:
        p = self.procs.pop(ifname)
        self.pair.stop(p)  # type: ignore[arg-type]
        wait_for(lambda: not Path(f"/var/run/wireguard/{ifname}.sock").exists(), "socket gone")

    def setconf(self, ns: str, ifname: str, conf: str) -> None:
        f = self.tmp / f"{ifname}.conf"
        f.write_text(strip_wg_quick(conf))
        self.pair.exec(ns, self.wg, "setconf", ifname, str(f))

    def handshakes(self, ns: str, ifname: str) -> dict[str, int]:
        out = self.pair.exec(ns, self.wg, "show", ifname, "latest-handshakes").stdout
        return {k: int(v) for k, v in (line.split() for line in out.splitlines() if line.strip())}


def _client_conf(text: str, endpoint: str) -> str:
    # The rendered Endpoint is the public name; in the test it is the server namespace.
    return re.sub(r"^Endpoint = .*:(\d+)$", rf"Endpoint = {endpoint}:\1", text, flags=re.M)


def _connect(pair: Pair, host: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return pair.exec(
        pair.client, sys.executable, "-c", CONNECT, host, str(PORT), str(timeout), check=False
    )


def test_handshake_and_tcp_over_both_families_then_revocation(state: State, tmp_path: Path) -> None:
    with namespace_pair() as pair:
        wg = WG(pair, tmp_path)
        files = render(snapshot(state))
        server_conf = files["server/linux/wg0.conf"].data.decode()
        port = state.settings.wg_port
        wg.up(
            pair.server,
            f"wgs{pair.tag}",
            server_conf,
            ["10.77.0.1/24", "fd77::1/64"],
            default=False,
        )
        echo = pair.spawn(pair.server, sys.executable, "-c", ECHO % PORT)
        assert echo.stdout is not None
        assert echo.stdout.readline().strip() == "listening"

        alice = state.device("alice")
        client_if = f"wgc{pair.tag}"
        alice_conf = _client_conf(files["clients/alice/alice.conf"].data.decode(), pair.server_ip)
        assert f":{port}" in alice_conf
        wg.up(pair.client, client_if, alice_conf, ["10.77.0.2/32", "fd77::2/128"], default=True)

        for host, seen in (("10.77.0.1", "10.77.0.2"), ("fd77::1", "fd77::2")):
            p = _connect(pair, host, 30)
            assert p.returncode == 0, p.stderr
            assert p.stdout.strip() == seen  # the server saw the tunnel address
        server_view = wg.handshakes(pair.server, f"wgs{pair.tag}")
        assert server_view[alice.wg_public] > 0

        # alice is removed; the server loads the next render
        state.remove("alice")
        next_render = render(snapshot(state))["server/linux/wg0.conf"].data.decode()
        wg.setconf(pair.server, f"wgs{pair.tag}", next_render)
        assert alice.wg_public not in wg.handshakes(pair.server, f"wgs{pair.tag}")
        wg.down(client_if)
        wg.up(pair.client, client_if, alice_conf, ["10.77.0.2/32", "fd77::2/128"], default=True)
        p = _connect(pair, "10.77.0.1", 8)
        assert p.returncode != 0
        assert list(wg.handshakes(pair.client, client_if).values()) == [0]

        # control: the same underlay and server still serve bob
        wg.down(client_if)
        bob_conf = _client_conf(files["clients/bob/bob.conf"].data.decode(), pair.server_ip)
        wg.up(pair.client, client_if, bob_conf, ["10.77.0.3/32", "fd77::3/128"], default=True)
        p = _connect(pair, "fd77::1", 30)
        assert p.returncode == 0 and p.stdout.strip() == "fd77::3"
