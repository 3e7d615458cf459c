"""``vpn-provision qr``: a device's WireGuard config as a QR code."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeward import cli
from edgeward.files import atomic_write
from vpn_provision.common import add_state_argument, open_state, tidy_help
from vpn_provision.render import snapshot
from vpn_provision.render.qr import png, terminal
from vpn_provision.render.wireguard import client_conf

HELP = "show a device's WireGuard config as a QR code (terminal, or --png FILE)"
DESCRIPTION = (
    "Draw the device's WireGuard config (it holds the device's private key) as a QR code\n"
    "to scan with the WireGuard app from this screen, or write it as a PNG (mode 0600)."
)
EPILOG = """examples:
  vpn-provision qr router
  vpn-provision qr router --png router.png
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("device", metavar="DEVICE", help="the device's name")
    p.add_argument("--png", metavar="FILE", help="write a PNG instead of drawing")
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        device = state.device(args.device)
        if "wireguard" not in device.protos:
            raise cli.UsageError(f"{device.name} has no WireGuard config (IKEv2 only)")
        conf = client_conf(snapshot(state, (device,)), device)
    if args.png:
        atomic_write(Path(args.png), png(conf), mode=0o600)
        print(f"wrote {args.png}")
    else:
        print(terminal(conf), end="")
    return cli.EXIT_OK
