"""``vpn-provision hook``: the deploy hook of certbot, acme.sh or lego."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from edgeward import cli
from edgeward.acme import add_hook_arguments, renewal_of
from edgeward.logs import get_logger
from vpn_provision.common import add_state_argument, open_state, tidy_help
from vpn_provision.hooks import RELOAD, concerns
from vpn_provision.render import render, snapshot, write_tree

log = get_logger("vpn_provision.hook")

HELP = "after a Let's Encrypt renewal: render the server files again and reload IKE"
DESCRIPTION = (
    "Read what the ACME client renewed; when it is this server's IKEv2 certificate\n"
    "(settings le_cert/le_key, or a domain covering `host`), render the server files into\n"
    "--out again and reload the IKE daemon (Linux: swanctl --load-creds; OpenBSD: ikectl\n"
    "reload), so the new certificate is served without dropping anyone.\n\n"
    "  certbot  --deploy-hook: RENEWED_LINEAGE, RENEWED_DOMAINS (environment)\n"
    "  acme.sh  deploy hook: DOMAIN KEY CERT CA FULLCHAIN (arguments), or _cdomain...\n"
    "  lego     --run-hook/--renew-hook: LEGO_CERT_DOMAIN, LEGO_CERT_PATH, ...\n\n"
    "Exit codes: 0 done (or nothing concerned: certbot runs every deploy hook for every\n"
    "certificate); 1 the reload failed; 2 nothing to act on, or a configuration error."
)
EPILOG = """examples:
  certbot renew --deploy-hook 'vpn-provision hook --out /etc/vpn-provision/out'
  lego --run-hook='vpn-provision hook --out /etc/vpn-provision/out' ... run
  vpn-provision hook --out ./out vpn.example.org key.pem cert.pem ca.pem fullchain.pem
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    add_hook_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="the rendered tree to refresh")
    p.add_argument(
        "--reload-command",
        metavar="CMD",
        help="run this instead of the system's reload (swanctl --load-creds / ikectl reload)",
    )
    p.add_argument("--no-reload", action="store_true", help="render only")
    tidy_help(p)


def run(args: argparse.Namespace) -> int:
    renewal = renewal_of(args, os.environ)
    with open_state(args) as state:
        reason = concerns(state.settings, renewal)
        if reason is None:
            print(f"{renewal.describe()}: not this VPN server's certificate")
            return cli.EXIT_OK
        log.info("%s: %s", renewal.describe(), reason)
        files = render(snapshot(state))
        os_name = state.settings.os
    write_tree(Path(args.out), files)
    print(f"rendered {len(files)} files under {args.out} ({reason})")
    if args.no_reload:
        return cli.EXIT_OK
    argv = shlex.split(args.reload_command) if args.reload_command else list(RELOAD[os_name])
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"reload failed: {' '.join(argv)}: {exc}", file=sys.stderr)
        return cli.EXIT_FAILED
    if p.returncode != 0:
        detail = " ".join((p.stdout + p.stderr).split())[:300]
        print(f"reload failed: {' '.join(argv)} exited {p.returncode}: {detail}", file=sys.stderr)
        return cli.EXIT_FAILED
    print(f"reloaded: {' '.join(argv)}")
    return cli.EXIT_OK
