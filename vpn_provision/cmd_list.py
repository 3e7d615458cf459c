"""``vpn-provision list``: the devices (never a secret)."""

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

HELP = "list the devices"
EPILOG = """examples:
  vpn-provision list
  vpn-provision list --all --json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("--all", action="store_true", help="include removed devices")
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        devices = state.devices(include_removed=args.all)
    if args.json:
        print_json([d.public() for d in devices])
        return cli.EXIT_OK
    if not devices:
        print("no devices (add one with 'vpn-provision add')")
    for d in devices:
        gone = "  (removed)" if d.removed is not None else ""
        protos = ",".join(d.protos)
        print(f"{d.name:<20} {d.platform:<8} {d.address4!s:<16} {d.address6!s:<24} {protos}{gone}")
    return cli.EXIT_OK
