"""``printer-sync status``: what every printer serves, next to what is on disk."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections import Counter
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from edgeward import cli
from printer_sync.config import load_config
from printer_sync.status import (
    FAILING,
    CertSummary,
    PrinterStatus,
    State,
    check_all,
    widen_executor,
)

HELP = "show each printer's served certificate next to the local one (changes nothing)"
DESCRIPTION = (
    "For every printer (all at once): the certificate it serves, fetched by a TLS handshake\n"
    "by IP without SNI as its own clients do; the local certificate; whether they match;\n"
    "days left; the last push from the history. Nothing is sent but a TLS handshake.\n\n"
    "States: ok, renew_due (in sync, fewer than renew_before_days left: the ACME client's\n"
    "turn), pin_outdated (serves our certificate, the pin names an older one, e.g. after an\n"
    "interrupted push: the next push re-pins), mismatch (serves another certificate: run\n"
    "push), expired, pin_changed (serves neither the pinned certificate nor one of ours),\n"
    "unreachable, local_error (cert file unreadable).\n\n"
    "Exit codes: 0 every printer ok, renew_due or pin_outdated; 1 any printer unreachable,\n"
    "mismatched, expired, pin_changed or with an unreadable local file; 2 configuration error."
)
EPILOG = """examples:
  printer-sync status --config /etc/printer-sync/printers.toml
  printer-sync status --config printers.toml office        # one printer
  printer-sync status --config printers.toml --json | jq '.[] | {name, state, days_left}'

In a cron job or a monitoring check, the exit code is the verdict.
"""

_STYLE = {
    State.OK: "bold green",
    State.RENEW_DUE: "bold yellow",
    State.PIN_OUTDATED: "bold yellow",
    State.MISMATCH: "bold red",
    State.EXPIRED: "bold red",
    State.PIN_CHANGED: "bold red",
    State.UNREACHABLE: "bold red",
    State.LOCAL_ERROR: "bold red",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="printers to show (default: all)")
    p.add_argument("--config", required=True, metavar="FILE", help="the printers file (TOML)")
    p.add_argument("--json", action="store_true", help="print a JSON array, one object each")
    p.add_argument(
        "--timeout",
        type=cli.seconds(most=3600),
        metavar="SECONDS",
        default=None,
        help="seconds for each TLS handshake (default: the printer's timeout setting)",
    )


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cert_rows(table: Table, label: str, cert: CertSummary | None, error: str | None) -> None:
    if cert is None:
        table.add_row(label, Text(error or "unknown", style="red"))
        return
    # Text, not markup: a certificate's names are the printer's data ("[" is legal there).
    table.add_row(f"{label} subject", Text(cert.subject))
    table.add_row(f"{label} issuer", Text(cert.issuer))
    table.add_row(f"{label} not after", cert.not_after.strftime("%Y-%m-%d %H:%M UTC"))
    table.add_row(f"{label} SHA-256", cert.fingerprint)


def _last_push(s: PrinterStatus) -> str:
    row = s.last_push
    if row is None:
        return "never"
    text = f"{row.result} at {_when(row.started)}"
    if row.duration is not None:
        text += f" ({row.duration:.1f} s)"
    if row.error:
        text += f": {row.error}"
    return text


def text_console(file: TextIO) -> Console:
    """The console the table is printed on.

    Not a terminal (a pipe, a log): wide enough that fingerprints stay on one line.
    ``emoji=False``: rich would turn ``:AB:`` inside a fingerprint into an emoji.
    """
    width = None if file.isatty() else 130
    return Console(file=file, width=width, highlight=False, emoji=False)


def render(statuses: list[PrinterStatus], console: Console) -> None:
    for s in statuses:
        state = s.state
        table = Table(
            title=f"[b]{escape(s.name)}[/b]  {escape(s.url)}  [{_STYLE[state]}]{state}[/]",
            title_justify="left",
            show_header=False,
            box=None,
            padding=(0, 2, 0, 0),
        )
        table.add_column("field", style="dim", no_wrap=True)
        table.add_column("value", overflow="fold")
        _cert_rows(table, "served", s.served, s.served_error)
        if s.tls_version:
            table.add_row("served TLS", s.tls_version)
        _cert_rows(table, "local", s.local, s.local_error)
        match = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "unknown"}[s.match]
        table.add_row("match", match)
        days = s.days_left
        table.add_row(
            "days left",
            "unknown" if days is None else f"{days:.1f} (renew below {s.renew_before_days})",
        )
        if s.pin is not None:
            table.add_row("pinned SHA-256", s.pin)
        table.add_row("last push", Text(_last_push(s)))
        console.print(table)
        console.print()
    counts = Counter(str(s.state) for s in statuses)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    console.print(f"{len(statuses)} printer(s): {summary or 'none configured'}")


async def _check(args: argparse.Namespace) -> list[PrinterStatus]:
    config = load_config(args.config)
    if not config.printers:  # as push and watch say it
        raise cli.UsageError(f"{args.config}: no [[printer]] tables")
    names: list[str] = list(args.names)
    for n in names:
        try:
            config.printer(n)
        except KeyError as exc:
            raise cli.UsageError(str(exc.args[0])) from None
    executor = widen_executor(asyncio.get_running_loop(), len(config.printers))
    try:
        return await check_all(config, names or None, handshake_timeout=args.timeout)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def run(args: argparse.Namespace) -> int:
    statuses = asyncio.run(_check(args))
    if args.json:
        out: list[dict[str, Any]] = [s.as_dict() for s in statuses]
        print(json.dumps(out, indent=2))
    else:
        render(statuses, text_console(sys.stdout))
    return cli.EXIT_FAILED if any(s.state in FAILING for s in statuses) else cli.EXIT_OK
