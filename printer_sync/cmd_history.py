"""``printer-sync history``: what every push did, newest first."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict

from edgeward import cli
from printer_sync.config import load_config
from printer_sync.history import History, HistoryRow

HELP = "show the push history (and pins) from the state database"
DESCRIPTION = (
    "One line per push, newest first: when, printer, result (verified, skipped_unchanged,\n"
    "failed, interrupted = the process was killed mid-push, running), duration, the error\n"
    "kind and message, and the fingerprints before and after.\n"
    "--forget-pin drops a printer's pin so the next push trusts what it serves (only after\n"
    "checking the printer; 'push --repin FINGERPRINT' is the safer way)."
)
EPILOG = """examples:
  printer-sync history --config printers.toml
  printer-sync history --config printers.toml office --limit 5
  printer-sync history --config printers.toml --json | jq 'map(select(.result=="failed"))'
  printer-sync history --config printers.toml --pins
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="printers to show (default: all)")
    p.add_argument("--config", required=True, metavar="FILE", help="the printers file (TOML)")
    p.add_argument(
        "--limit",
        type=cli.whole(1, 1_000_000),
        metavar="N",
        default=20,
        help="rows per printer (all printers: total)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--pins", action="store_true", help="show the pinned fingerprints")
    p.add_argument("--forget-pin", metavar="NAME", help="drop this printer's pin")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(fp: str | None) -> str:
    return f"{fp[:11]}…{fp[-5:]}" if fp else "-"


def _change(r: HistoryRow) -> str:
    """What the row says about the served certificate; an arrow only for a verified change."""
    old, new = _short(r.old_fingerprint), _short(r.new_fingerprint)
    if r.result == "verified":
        return f"{old} → {new}"
    if r.result == "skipped_unchanged" or r.new_fingerprint is None:
        return f"{new if r.new_fingerprint else old} (unchanged)"
    return f"{old}, tried {new}"


def _line(r: HistoryRow) -> str:
    duration = f"{r.duration:.1f}s" if r.duration is not None else "-"
    error = f" [{r.error}]" if r.error else ""
    return (
        f"{_when(r.started)}  {r.printer:<16} {r.result:<17} {duration:>7}  "
        f"{_change(r)}{error}  {r.message or ''}"
    )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with History(config.db_path) as history:
        if args.forget_pin:
            if history.forget_pin(args.forget_pin):
                print(f"{args.forget_pin}: pin forgotten; the next push trusts what it serves")
                return cli.EXIT_OK
            print(f"{args.forget_pin}: no pin stored", file=sys.stderr)
            return cli.EXIT_FAILED
        if args.pins:
            names = args.names or [p.name for p in config.printers]
            pins = [(n, history.pin(n)) for n in names]
            if args.json:
                print(json.dumps([asdict(p) if p else {"printer": n} for n, p in pins], indent=1))
            else:
                for n, pin in pins:
                    shown = f"{pin.fingerprint} ({pin.how}, {_when(pin.pinned_at)})" if pin else "-"
                    print(f"{n:<16} {shown}")
            return cli.EXIT_OK
        rows: list[HistoryRow] = []
        if args.names:
            for n in args.names:
                rows += history.rows(n, limit=args.limit)
            rows.sort(key=lambda r: r.id, reverse=True)
        else:
            rows = history.rows(limit=args.limit)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    elif not rows:
        print("no pushes recorded yet", file=sys.stderr)
    else:
        for r in rows:
            print(_line(r))
    return cli.EXIT_OK
