"""Firewalls: nftables (Linux) and pf (OpenBSD).

Both NAT the VPN pools of both families out of the external interface and open only what
the VPN needs: SSH, IKE (500/4500), ESP, WireGuard, DNS from the VPN pools, and HTTP(S)
for the ACME client and the link server behind nginx.
"""

from __future__ import annotations

from vpn_provision.render.snapshot import Snapshot


def nftables_conf(snap: Snapshot) -> str:
    s = snap.settings
    ext, wg = s.external_interface, s.wg_interface
    return f"""#!/usr/sbin/nft -f
# nftables.conf, rendered by vpn-provision: do not edit. Check: nft -c -f nftables.conf
flush ruleset

table inet vpn_filter {{
    chain input {{
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iif "lo" accept
        meta l4proto {{ icmp, ipv6-icmp }} accept
        tcp dport {{ 22, 80, 443 }} accept
        udp dport {{ 500, 4500, {s.wg_port} }} accept
        meta l4proto esp accept
        ip saddr {s.net4} meta l4proto {{ tcp, udp }} th dport 53 accept
        ip6 saddr {s.net6} meta l4proto {{ tcp, udp }} th dport 53 accept
    }}

    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ip saddr {s.net4} oifname "{ext}" accept
        ip6 saddr {s.net6} oifname "{ext}" accept
        iifname "{wg}" oifname "{wg}" drop
    }}

    chain output {{
        type filter hook output priority filter; policy accept;
    }}
}}

table inet vpn_nat {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {s.net4} oifname "{ext}" masquerade
        ip6 saddr {s.net6} oifname "{ext}" masquerade
    }}
}}
"""


def pf_conf(snap: Snapshot) -> str:
    s = snap.settings
    return f"""# pf.conf(5), rendered by vpn-provision: do not edit. Check: pfctl -nf /etc/pf.conf
ext_if = "{s.external_interface}"
wg_if = "{s.wg_interface}"
vpn4 = "{s.net4}"
vpn6 = "{s.net6}"

set skip on lo
block return log
pass out quick

match out on $ext_if inet from $vpn4 to any nat-to ($ext_if)
match out on $ext_if inet6 from $vpn6 to any nat-to ($ext_if)

pass in on $ext_if proto tcp to ($ext_if) port {{ ssh http https }}
pass in on $ext_if proto udp to ($ext_if) port {{ isakmp ipsec-nat-t {s.wg_port} }}
pass in on $ext_if proto esp to ($ext_if)
pass in inet proto icmp
pass in inet6 proto icmp6

pass in on $wg_if from {{ $vpn4 $vpn6 }}
pass in on enc0 from {{ $vpn4 $vpn6 }} keep state (if-bound)
"""
