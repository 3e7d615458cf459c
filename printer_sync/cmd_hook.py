"""``printer-sync hook``: the deploy hook of certbot, acme.sh or lego."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from edgeward import cli
from edgeward.acme import add_hook_arguments, renewal_of
from edgeward.logs import get_logger
from printer_sync.config import load_config
from printer_sync.hooks import printers_for
from printer_sync.push import push_all
from printer_sync.status import quiet_libraries

log = get_logger("printer_sync.hook")

HELP = "push a renewed certificate (run by certbot, acme.sh or lego after a renewal)"
DESCRIPTION = (
    "Read what the ACME client renewed and push it to the printers that use those files\n"
    "or name those domains (their `domains` setting); other printers are left alone.\n\n"
    "  certbot  --deploy-hook: RENEWED_LINEAGE, RENEWED_DOMAINS (environment)\n"
    "  acme.sh  deploy hook: DOMAIN KEY CERT CA FULLCHAIN (arguments), or the exported\n"
    "           _cdomain/_ckey/_ccert/_cca/_cfullchain, or --reloadcmd's CERT_PATH,\n"
    "           CERT_KEY_PATH, CA_CERT_PATH, CERT_FULLCHAIN_PATH, Le_Domain\n"
    "  lego     --run-hook/--renew-hook: LEGO_CERT_DOMAIN, LEGO_CERT_PATH,\n"
    "           LEGO_CERT_KEY_PATH (environment)\n\n"
    "Each push is the full one (validate, upload, wait for the reboot, verify).\n"
    "Exit codes: 0 every concerned printer verified or already up to date (or none is\n"
    "concerned: certbot runs deploy hooks for every certificate); 1 a push failed;\n"
    "2 the hook got nothing to act on, or a configuration error."
)
EPILOG = """examples:
  certbot renew --deploy-hook \\
      'printer-sync hook --config /etc/printer-sync/printers.toml'
  # (or install deploy/certbot/printer-sync.sh in /etc/letsencrypt/renewal-hooks/deploy/)

  # acme.sh: ~/.acme.sh/deploy/printer_sync.sh containing
  #   printer_sync_deploy() { printer-sync hook --config /etc/printer-sync/printers.toml "$@"; }
  acme.sh --deploy -d printer.example.org --deploy-hook printer_sync

  lego --run-hook='printer-sync hook --config /etc/printer-sync/printers.toml' ... run

  # by hand, as acme.sh would call it:
  printer-sync hook --config printers.toml printer.example.org key.pem cert.pem ca.pem full.pem
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_hook_arguments(p)
    p.add_argument("--config", required=True, metavar="FILE", help="the printers file (TOML)")
    p.add_argument("--dry-run", action="store_true", help="say what would be pushed; send nothing")


def _say(name: str, message: str) -> None:
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    config = load_config(args.config)
    renewal = renewal_of(args, os.environ)
    chosen = printers_for(config, renewal)
    if not chosen:
        log.info("%s: no printer uses these files or names these domains", renewal.describe())
        print(f"{renewal.describe()}: no printer concerned")
        return cli.EXIT_OK
    for printer, reason in chosen:
        log.info("%s: %s", printer.name, reason, extra={"printer": printer.name})
    names = [p.name for p, _ in chosen]
    results = asyncio.run(push_all(config, names, dry_run=args.dry_run, progress=_say))
    for r in results:
        print(f"{r.printer}: {r.result_label}: {r.message}")
    return cli.EXIT_OK if all(r.ok for r in results) else cli.EXIT_FAILED
