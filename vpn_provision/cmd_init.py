"""``vpn-provision init``: a new state directory with its CA and server keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeward import cli
from edgeward.config import ConfigError, load_mapping
from vpn_provision.common import add_json_argument, add_state_argument, print_json, tidy_help
from vpn_provision.settings import SERVER_OSES, Settings
from vpn_provision.state import init, state_dir

HELP = "create the state directory: settings, database, CA, server keys"
DESCRIPTION = (
    "Create the state directory once: settings.toml, state.db, an ECDSA P-384 CA (path\n"
    "length 0, name-constrained to --host), the server's IKEv2 certificate (or use a\n"
    "Let's Encrypt pair with --le-cert/--le-key) and the server's WireGuard key.\n"
    "Refuses a directory that exists and is not empty."
)
EPILOG = """examples:
  vpn-provision init --host vpn.example.org --net4 10.77.0.0/24 --net6 fd77::/64 --os openbsd
  vpn-provision --state ./vpn init --host vpn.example.org --net4 10.77.0.0/24 \\
      --net6 fd77::/64 --os linux --le-cert /etc/letsencrypt/live/vpn.example.org/fullchain.pem \\
      --le-key /etc/letsencrypt/live/vpn.example.org/privkey.pem
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("--host", required=True, metavar="NAME", help="the server's DNS name")
    p.add_argument("--net4", required=True, metavar="CIDR", help="IPv4 pool, e.g. 10.77.0.0/24")
    p.add_argument("--net6", required=True, metavar="CIDR", help="IPv6 pool, e.g. fd77::/64")
    p.add_argument("--os", choices=SERVER_OSES, default="linux", help="the server's system")
    p.add_argument("--wg-port", type=int, default=51820, metavar="PORT", help="WireGuard port")
    p.add_argument(
        "--external-interface",
        metavar="NAME",
        help="the Internet-facing interface for NAT (eth0 on Linux, vio0 on OpenBSD)",
    )
    p.add_argument("--public-url", metavar="URL", help="where `serve` is reached by phones")
    p.add_argument("--le-cert", metavar="FILE", help="Let's Encrypt fullchain.pem for IKEv2")
    p.add_argument("--le-key", metavar="FILE", help="its privkey.pem")
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    raw: dict[str, object] = {
        "host": args.host,
        "net4": args.net4,
        "net6": args.net6,
        "os": args.os,
        "wg_port": args.wg_port,
        "external_interface": args.external_interface
        or ("vio0" if args.os == "openbsd" else "eth0"),
    }
    if args.public_url:
        raw["public_url"] = args.public_url
    if args.le_cert or args.le_key:
        raw["le_cert"] = str(Path(args.le_cert or "").resolve()) if args.le_cert else ""
        raw["le_key"] = str(Path(args.le_key or "").resolve()) if args.le_key else ""
    try:
        settings = load_mapping(Settings, raw, source="init")
    except ConfigError as exc:
        raise cli.UsageError(f"--{exc.key.replace('_', '-')}: {exc.problem}") from None
    root = state_dir(args.state)
    with init(root, settings) as state:
        ca = state.ca.cert
        if args.json:
            print_json(
                {
                    "state": str(root),
                    "host": settings.host,
                    "ca_serial": format(ca.serial_number, "x"),
                }
            )
        else:
            print(f"initialised {root} for {settings.host} ({settings.os})")
    return cli.EXIT_OK
