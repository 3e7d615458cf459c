"""``vpn-provision add``: a device with its own keys, certificate and addresses."""

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
from vpn_provision.state import PLATFORMS, PROTOS, Proto

HELP = "add a device (fresh WireGuard key, PSK, client certificate, addresses)"
DESCRIPTION = (
    "Add a device: an X25519 key and pre-shared key for WireGuard, a client certificate\n"
    "(ECDSA P-384, in a password-protected .p12) for IKEv2, and the next IPv4 /32 and\n"
    "IPv6 /128 of the pools (an address is never handed out twice, even after removal).\n"
    "No CA password and no redeploy: run `render` and reload the server."
)
EPILOG = """examples:
  vpn-provision add alice-phone --platform ios --trusted-ssid Home --trusted-ssid Home-5G
  vpn-provision add router --platform linux --proto wireguard
"""


def _protos(text: str) -> list[Proto]:
    out: list[Proto] = []
    for part in text.split(","):
        part = part.strip()
        if part not in PROTOS:
            raise argparse.ArgumentTypeError(f"expected wireguard and/or ikev2, got {part!r}")
        out.append(part)
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("device", metavar="DEVICE", help="a short name: a-z, 0-9, '-'")
    p.add_argument("--platform", required=True, choices=PLATFORMS, help="the device's system")
    p.add_argument(
        "--proto",
        type=_protos,
        default=list(PROTOS),
        metavar="LIST",
        help="wireguard, ikev2 or both (comma-separated; default both)",
    )
    p.add_argument(
        "--trusted-ssid",
        action="append",
        default=[],
        metavar="NAME",
        help="a Wi-Fi network where Apple devices disconnect (repeatable)",
    )
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        device = state.add(args.device, args.platform, args.proto, args.trusted_ssid)
    if args.json:
        print_json(device.public())
    else:
        protos = ", ".join(device.protos)
        print(f"added {device.name}: {device.address4}, {device.address6} ({protos})")
    return cli.EXIT_OK
