"""``printer-sync push``: validate, upload, wait for the reboot, verify, record."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time

from edgeward import cli
from printer_sync.config import load_config
from printer_sync.push import Progress, PushResult, normalise_fingerprint, push_all

HELP = "push the local certificate to printers and verify they serve it"
DESCRIPTION = (
    "For each printer, concurrently: validate the local key, certificate and chain (type,\n"
    "size, validity, order, slots; half-written files are waited out) → fetch the certificate\n"
    "the printer serves (TLS by IP, no SNI) and check its pin → skip if it already serves\n"
    "ours (unless --force) → log in → import missing CA certificates → upload key + chain →\n"
    "switch to the CA-signed certificate if the printer used its self-signed one → wait for\n"
    "the reboot → verify that the printer serves the new fingerprint → record in history.\n\n"
    "Exit codes: 0 every printer ended verified, skipped_unchanged or dry_run; 1 any printer\n"
    "failed (the line names the error kind, e.g. wrong_password, reboot_timeout); 2 usage or\n"
    "configuration error."
)
EPILOG = """examples:
  printer-sync push --all --config /etc/printer-sync/printers.toml
  printer-sync push office --dry-run --config printers.toml     # what would be sent
  printer-sync push office --force --config printers.toml       # upload even if unchanged
  printer-sync push office --repin 3F:A2:...:9C --config printers.toml
      # the printer was replaced or reset: accept the fingerprint you read on its own
      # panel or web page as the new pin, then push

  printer-sync push --all --json --config printers.toml | jq '.[] | {printer, result}'

Progress goes to standard error, one line per step; the summary goes to standard output.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="printers to push")
    p.add_argument("--all", action="store_true", help="push every configured printer")
    p.add_argument("--config", required=True, metavar="FILE", help="the printers file (TOML)")
    p.add_argument("--dry-run", action="store_true", help="validate and compare; send nothing")
    p.add_argument(
        "--json", action="store_true", help="print a JSON array of results, one object each"
    )
    p.add_argument("--force", action="store_true", help="upload even if the printer is up to date")
    p.add_argument(
        "--repin",
        metavar="FINGERPRINT",
        help="accept this SHA-256 fingerprint (what the printer serves now) as its new pin; "
        "one printer only",
    )


def _progress(started: float) -> Progress:
    def show(printer: str, message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {printer}: {message}", file=sys.stderr)

    return show


def _line(r: PushResult) -> str:
    label = r.result_label
    return f"{r.printer}: {label} ({r.duration:.1f} s): {r.message}"


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.all and args.names:
        raise cli.UsageError("give printer names or --all, not both")
    if not args.all and not args.names:
        raise cli.UsageError("name the printers to push, or give --all")
    if not config.printers:
        raise cli.UsageError(f"{args.config}: no [[printer]] tables")
    for name in args.names:
        try:
            config.printer(name)
        except KeyError as exc:
            raise cli.UsageError(str(exc.args[0])) from None
    if args.repin is not None:
        if len(args.names) != 1:
            raise cli.UsageError("--repin applies to exactly one printer: name it")
        try:
            normalise_fingerprint(args.repin)
        except ValueError as exc:
            raise cli.UsageError(f"--repin: {exc}") from None
    # One line per request is noise next to our progress lines.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    started = time.monotonic()
    results = asyncio.run(
        push_all(
            config,
            args.names or None,
            dry_run=args.dry_run,
            force=args.force,
            progress=_progress(started),
            repin=args.repin,
        )
    )
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        for r in results:
            print(_line(r))
    failed = [r for r in results if not r.ok]
    if failed:
        print(
            f"{len(failed)} of {len(results)} printer(s) failed: "
            + ", ".join(f"{r.printer} ({r.result_label})" for r in failed),
            file=sys.stderr,
        )
        return cli.EXIT_FAILED
    return cli.EXIT_OK
