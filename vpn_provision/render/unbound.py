"""Unbound: a validating (DNSSEC) resolver that answers only on the VPN addresses."""

from __future__ import annotations

from typing import Final

from vpn_provision.render.snapshot import Snapshot
from vpn_provision.settings import ServerOS

# Where each system keeps unbound's working directory and the root trust anchor.
PATHS: Final[dict[ServerOS, tuple[str, str, str]]] = {
    # directory, auto-trust-anchor-file, username
    "linux": ("/etc/unbound", "/var/lib/unbound/root.key", "unbound"),
    "openbsd": ("/var/unbound", "/var/unbound/db/root.key", "_unbound"),
}


def unbound_conf(snap: Snapshot, os_name: ServerOS) -> str:
    s = snap.settings
    directory, anchor, user = PATHS[os_name]
    return f"""# unbound.conf(5), rendered by vpn-provision: do not edit. Check: unbound-checkconf
server:
    directory: "{directory}"
    username: "{user}"
    auto-trust-anchor-file: "{anchor}"
    interface: {s.server4}
    interface: {s.server6}
    # The VPN addresses appear when wg0 comes up, possibly after unbound starts.
    ip-freebind: yes
    do-ip4: yes
    do-ip6: yes
    access-control: 0.0.0.0/0 refuse
    access-control: ::/0 refuse
    access-control: {s.net4} allow
    access-control: {s.net6} allow
    hide-identity: yes
    hide-version: yes
    harden-glue: yes
    harden-dnssec-stripped: yes
    harden-referral-path: yes
    qname-minimisation: yes
    use-caps-for-id: yes
    val-clean-additional: yes
    aggressive-nsec: yes
    prefetch: yes
    private-address: {s.net4}
    private-address: {s.net6}
"""
