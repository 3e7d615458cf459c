"""strongSwan ``swanctl.conf`` (Linux): one connection per device.

Each device has its own connection matched by its certificate identity (``name@host``),
so it always gets its own pool address, the same one WireGuard uses. ``revocation =
strict`` makes charon refuse a certificate the rendered CRL lists.
"""

from __future__ import annotations

from vpn_provision.render import suites
from vpn_provision.render.snapshot import Snapshot


def swanctl_conf(snap: Snapshot) -> str:
    s = snap.settings
    out = [
        "# swanctl.conf(5), rendered by vpn-provision: do not edit.",
        "# Load with: swanctl --load-all",
        "connections {",
    ]
    pools = []
    for d in snap.devices:
        if "ikev2" not in d.protos:
            continue
        out += [
            f"    {d.name} {{",
            "        version = 2",
            f"        proposals = {suites.STRONGSWAN_IKE}",
            "        send_cert = always",
            "        mobike = yes",
            "        dpd_delay = 30s",
            "        unique = replace",
            f"        pools = {d.name}-v4, {d.name}-v6",
            "        local {",
            "            auth = pubkey",
            "            certs = server.pem",
            f"            id = {s.host}",
            "        }",
            "        remote {",
            "            auth = pubkey",
            "            cacerts = ca.pem",
            f"            id = {d.identity}",
            "            revocation = strict",
            "        }",
            "        children {",
            f"            {d.name} {{",
            "                local_ts = 0.0.0.0/0, ::/0",
            f"                esp_proposals = {suites.STRONGSWAN_ESP}",
            "                dpd_action = clear",
            "            }",
            "        }",
            "    }",
        ]
        pools += [
            f"    {d.name}-v4 {{",
            f"        addrs = {d.address4}/32",
            f"        dns = {s.server4}",
            "    }",
            f"    {d.name}-v6 {{",
            f"        addrs = {d.address6}/128",
            f"        dns = {s.server6}",
            "    }",
        ]
    out.append("}")
    out += ["pools {", *pools, "}"]
    return "\n".join(out) + "\n"
