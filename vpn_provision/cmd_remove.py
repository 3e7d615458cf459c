"""``vpn-provision remove``: revoke a device."""

from __future__ import annotations

import argparse

from edgeward import cli
from vpn_provision.common import (
    add_json_argument,
    add_state_argument,
    open_state,
    print_json,
    tidy_help,
)

HELP = "remove a device: its peer leaves the next render, its certificate goes on the CRL"
EPILOG = """examples:
  vpn-provision remove alice-old-phone && vpn-provision render --out /etc/vpn-provision/out
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("device", metavar="DEVICE", help="the device's name")
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        device = state.remove(args.device)
    if args.json:
        print_json({"removed": device.name, "cert_serial": format(device.serial, "x")})
    else:
        print(f"removed {device.name}; render and reload the server to apply")
    return cli.EXIT_OK
