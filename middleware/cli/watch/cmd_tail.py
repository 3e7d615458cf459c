"""``dpi-watch tail``: follow access-log files like ``tail -F``."""

from __future__ import annotations

import argparse

from edgeward.cli import seconds
from middleware.cli.dpi_watch import add_common_arguments, run_daemon

HELP = "follow access-log files like tail -F"
EPILOG = "example:\n  dpi-watch tail /var/log/nginx/access.log --asn-table ip2asn-v4.tsv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="log files to follow")
    p.add_argument(
        "--from-start",
        action="store_true",
        help="read files present at start from their first line (default: only new lines)",
    )
    p.add_argument(
        "--interval",
        type=seconds(most=3600),
        default=0.25,
        metavar="SECONDS",
        help="time between polls",
    )
    add_common_arguments(p)


run = run_daemon
