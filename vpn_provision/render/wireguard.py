"""WireGuard: the wg-quick server and client files, OpenBSD's ``hostname.wg0``.

Clients route ``0.0.0.0/0`` **and** ``::/0`` through the tunnel: with IPv4 alone a phone
on a dual-stack network sends its IPv6 traffic around the VPN.
"""

from __future__ import annotations

from typing import Final

from vpn_provision.render.snapshot import Snapshot
from vpn_provision.state import Device

KEEPALIVE: Final = 25  # seconds; keeps NAT mappings of phones on mobile networks open
# Keys wg-quick understands but `wg setconf` (and WireGuard's apps via mobileconfig) do not.
WG_QUICK_ONLY: Final = frozenset(
    {"address", "dns", "mtu", "table", "preup", "postup", "predown", "postdown", "saveconfig"}
)


def server_conf(snap: Snapshot) -> str:
    s = snap.settings
    lines = [
        "# wg-quick(8) server configuration, rendered by vpn-provision: do not edit.",
        "[Interface]",
        f"Address = {s.server4}/{s.network4.prefixlen}, {s.server6}/{s.network6.prefixlen}",
        f"ListenPort = {s.wg_port}",
        f"PrivateKey = {snap.wg_private.reveal()}",
    ]
    for d in snap.devices:
        if "wireguard" not in d.protos:
            continue
        lines += [
            "",
            "[Peer]",
            f"# {d.name}",
            f"PublicKey = {d.wg_public}",
            f"PresharedKey = {d.wg_psk.reveal()}",
            f"AllowedIPs = {d.address4}/32, {d.address6}/128",
        ]
    return "\n".join(lines) + "\n"


def client_conf(snap: Snapshot, d: Device) -> str:
    s = snap.settings
    return (
        "[Interface]\n"
        f"PrivateKey = {d.wg_private.reveal()}\n"
        f"Address = {d.address4}/32, {d.address6}/128\n"
        f"DNS = {s.server4}, {s.server6}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {snap.wg_public}\n"
        f"PresharedKey = {d.wg_psk.reveal()}\n"
        f"Endpoint = {s.host}:{s.wg_port}\n"
        "AllowedIPs = 0.0.0.0/0, ::/0\n"
        f"PersistentKeepalive = {KEEPALIVE}\n"
    )


def hostname_wg(snap: Snapshot) -> str:
    """OpenBSD's ``/etc/hostname.wg0`` (ifconfig(8) wg options, one peer per line)."""
    s = snap.settings
    lines = [
        "# /etc/hostname.wg0, rendered by vpn-provision: do not edit.",
        f"wgkey {snap.wg_private.reveal()} wgport {s.wg_port}",
        f"inet {s.server4} {s.network4.netmask}",
        f"inet6 {s.server6} {s.network6.prefixlen}",
    ]
    for d in snap.devices:
        if "wireguard" in d.protos:
            lines.append(
                f"wgpeer {d.wg_public} wgpsk {d.wg_psk.reveal()} "
                f"wgaip {d.address4}/32 wgaip {d.address6}/128 wgdescr {d.name}"
            )
    lines.append("up")
    return "\n".join(lines) + "\n"


def strip_wg_quick(text: str) -> str:
    """The file without wg-quick-only keys, as ``wg setconf`` takes it."""
    out = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip().lower()
        if "=" in line and key in WG_QUICK_ONLY:
            continue
        out.append(line)
    return "\n".join(out) + "\n"
