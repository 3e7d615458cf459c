"""``vpn-provision render``: every server and client file, from the state."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeward import cli
from vpn_provision.checks import check_tree
from vpn_provision.common import (
    add_json_argument,
    add_state_argument,
    open_state,
    print_json,
    tidy_help,
)
from vpn_provision.render import render, snapshot, write_tree
from vpn_provision.settings import SERVER_OSES

HELP = "write the server and client files (DIR/server/<os>/..., DIR/clients/<device>/...)"
DESCRIPTION = (
    "Render every file from the state (a pure function of it: the same state gives the\n"
    "same bytes). Files holding keys are written 0600. Files of removed devices are\n"
    "deleted from DIR. With --check, the real validators found on PATH run on the result\n"
    "(wg setconf, wg pubkey, unbound-checkconf, iked -n, nft -c, openssl verify) and each\n"
    "is reported; exit code 1 if one failed."
)
EPILOG = """examples:
  vpn-provision render --out /etc/vpn-provision/out --check
  vpn-provision render --out ./out --os all
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the files")
    p.add_argument(
        "--os",
        choices=[*SERVER_OSES, "all"],
        help="server files for this system (default: the one in settings.toml)",
    )
    p.add_argument("--check", action="store_true", help="run the real validators on the result")
    p.add_argument(
        "--sign",
        action="store_true",
        help="sign the Apple profiles (CMS) with the server's IKEv2 certificate",
    )
    add_json_argument(p)
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        snap = snapshot(state)
    oses = list(SERVER_OSES) if args.os == "all" else [args.os] if args.os else None
    files = render(snap, oses, signed=args.sign)
    if snap.cache is not None:
        snap.cache.prune()
    out = Path(args.out)
    removed = write_tree(out, files)
    checks = check_tree(out) if args.check else []
    failed = [c for c in checks if c.status == "failed"]
    if args.json:
        print_json(
            {
                "out": str(out),
                "files": sorted(files),
                "removed": [str(p) for p in removed],
                "checks": [c.__dict__ for c in checks],
            }
        )
    else:
        print(f"rendered {len(files)} files under {out} ({len(removed)} stale removed)")
        for c in checks:
            extra = f": {c.detail}" if c.detail else ""
            print(f"  {c.status:<7} {c.name:<18} {c.target}{extra}")
    return cli.EXIT_FAILED if failed else cli.EXIT_OK
