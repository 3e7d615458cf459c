"""``vpn-provision``: a personal VPN server provisioned per device.

Each subcommand lives in its own module ``vpn_provision/cmd_<name>.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import command_group

SUBCOMMANDS = ("init", "add", "remove", "list", "show", "render", "qr", "link", "serve", "hook")


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "vpn-provision",
        "A personal VPN (WireGuard and IKEv2) for a family: one state directory, per-device "
        "keys and certificates, server files for OpenBSD or Linux, client configs, QR codes "
        "and Apple profiles downloaded once through expiring signed links.\n\n"
        "examples:\n"
        "  vpn-provision init --host vpn.example.org --net4 10.77.0.0/24 --net6 fd77::/64 "
        "--os linux\n"
        "  vpn-provision add alice-phone --platform ios\n"
        "  vpn-provision render --out /etc/vpn-provision/out --check\n"
        "  vpn-provision link alice-phone --expires-in 900\n\n"
        "exit codes: 0 done, 1 the work failed (a check failed), 2 usage or configuration "
        "error, 130 interrupted.\n"
        "state: --state DIR, else $VPN_PROVISION_STATE, else /var/lib/vpn-provision.",
        "vpn_provision",
        SUBCOMMANDS,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
