"""``vpn-provision link``: a signed, expiring, single-use link to a device's files."""

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
from vpn_provision.render.qr import terminal

HELP = "make a one-time download link for a device (give it to its owner)"
DESCRIPTION = (
    "Print a link to the page where a device's owner downloads its profile and config.\n"
    "The link is signed (the middleware's sign_url, key in STATE/links.keys), expires,\n"
    "and works once: a second visit gets 404. `serve` answers it."
)
EPILOG = """examples:
  vpn-provision link alice-phone                    # valid 15 minutes
  vpn-provision link alice-phone --expires-in 3600 --qr
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("device", metavar="DEVICE", help="the device's name")
    p.add_argument(
        "--expires-in", type=cli.link_seconds, default=900, metavar="SECONDS", help="validity"
    )
    p.add_argument("--qr", action="store_true", help="also draw the link as a QR code")
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    from vpn_provision.web import link  # the web stack only for the commands that use it

    with open_state(args) as state:
        device = state.device(args.device)
        url = link(state, device, args.expires_in)
    if args.json:
        print_json({"device": device.name, "url": url, "expires_in": args.expires_in})
        return cli.EXIT_OK
    print(url)
    if args.qr:
        print(terminal(url), end="")
    return cli.EXIT_OK
