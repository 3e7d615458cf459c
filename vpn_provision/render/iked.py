"""OpenIKEd ``iked.conf`` (OpenBSD): a certificate road warrior with one policy per device.

Each policy is bound to the device's certificate identity (``dstid``) and hands out that
device's addresses, so a phone's address is the same over IKEv2 and WireGuard. MOBIKE is
on (iked's default, said explicitly). Certificates live in iked's own layout under
``/etc/iked`` (``ca/``, ``certs/``, ``crls/``, ``private/local.key``).
"""

from __future__ import annotations

from vpn_provision.render import suites
from vpn_provision.render.snapshot import Snapshot


def iked_conf(snap: Snapshot) -> str:
    s = snap.settings
    lines = [
        "# iked.conf(5), rendered by vpn-provision: do not edit. Check: iked -n",
        "set mobike",
        "set fragmentation",
        "",
    ]
    for d in snap.devices:
        if "ikev2" not in d.protos:
            continue
        lines += [
            f'ikev2 "{d.name}" passive esp \\',
            f"\tfrom 0.0.0.0/0 to {d.address4} \\",
            f"\tfrom ::/0 to {d.address6} \\",
            "\tlocal any peer any \\",
            f"\tikesa {suites.IKED_IKESA} \\",
            f"\tchildsa {suites.IKED_CHILDSA} \\",
            f'\tsrcid "{s.host}" dstid "{d.identity}" \\',
            "\tecdsa384 \\",
            f"\tconfig address {d.address4} \\",
            f"\tconfig address {d.address6} \\",
            f"\tconfig name-server {s.server4} \\",
            f"\tconfig name-server {s.server6} \\",
            '\ttag "vpn-provision"',
            "",
        ]
    return "\n".join(lines)
