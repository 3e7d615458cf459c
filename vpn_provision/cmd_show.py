"""``vpn-provision show``: one device; private material only with ``--secrets``."""

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

HELP = "show a device (private keys only with --secrets)"
EPILOG = """examples:
  vpn-provision show alice-phone
  vpn-provision show alice-phone --secrets --json   # the .p12 password for a manual import
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("device", metavar="DEVICE", help="the device's name")
    p.add_argument(
        "--secrets",
        action="store_true",
        help="also print the WireGuard private key, PSK and .p12 password",
    )
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        device = state.device(args.device)
    info = device.public()
    if args.secrets:
        info.update(device.secrets())
    if args.json:
        print_json(info)
    else:
        for key, value in info.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"{key:<17} {shown if shown not in (None, '') else '-'}")
    return cli.EXIT_OK
