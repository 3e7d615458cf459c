"""``dpi-report demo-log`` and ``dpi-report fetch-table``: a test log, a real table."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from edgeward.cli import EXIT_FAILED, EXIT_OK, UsageError, parser
from middleware.report.counts import count
from middleware.report.fetch import MAX_BYTES, FetchError, check_url, fetch_table, redact
from middleware.report.synthetic import SEED_ASN, SEED_NAME, default_corrupted, write_demo

MAX_LINES = 20_000_000  # ~3 GB of log; a bigger test log is a typo
MAX_NETWORKS = 5_000

DEMO_DESCRIPTION = f"""\
Write a synthetic nginx access log (combined format) with the seed's incident: a few
requests from AS{SEED_ASN} ({SEED_NAME}) arrive with two characters replaced by
0x80 0x01 or 0x80 0x04, among browsing traffic from many networks (Zipf shares). Also
writes the matching IP→ASN table (iptoasn TSV), so that `dpi-report --asn-table TABLE OUT`
flags AS{SEED_ASN}. The same --seed gives the same files.
"""

DEMO_EPILOG = """\
examples:
  dpi-report demo-log var/demo/access.log --lines 20000
  dpi-report demo-log big.log --lines 5000000 --seed 7 --table big.asn.tsv
  dpi-report --asn-table var/demo/access.log.asn.tsv var/demo/access.log

exit codes: 0 written, 2 usage error (or OUT cannot be written).
"""

FETCH_DESCRIPTION = """\
Download an IP→ASN table to OUT and check it before it replaces OUT: it must parse as
the format OUT's name says (iptoasn .tsv[.gz], pyasn .dat[.gz], MaxMind .mmdb; MaxMind's
.tar.gz is unpacked), hold prefixes, and not have under half the ranges of the table it
replaces. Prints what it holds. The URL's query and credentials are never printed.
"""

FETCH_EPILOG = """\
examples:
  dpi-report fetch-table https://iptoasn.com/data/ip2asn-v4.tsv.gz ip2asn-v4.tsv.gz
  dpi-report fetch-table https://example.org/ipasn_20261127.dat.gz ipasn.dat.gz

exit codes: 0 table replaced, 1 download failed or not a usable table (OUT untouched),
2 usage error.
"""


def _positive_int(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit:,}")
        return value

    return parse


def demo_parser() -> argparse.ArgumentParser:
    p = parser("dpi-report demo-log", DEMO_DESCRIPTION, DEMO_EPILOG)
    p.add_argument("out", metavar="OUT", help="the log file to write")
    p.add_argument(
        "--lines", type=_positive_int(MAX_LINES), default=20_000, metavar="N",
        help="log lines",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=1, metavar="N", help="random seed")
    p.add_argument("--table", metavar="FILE", help="the ASN table to write (default: OUT.asn.tsv)")
    p.add_argument(
        "--corrupted", type=int, metavar="N",
        help="corrupted lines, all from AS9506 (default: 1 per 1,000 lines, 3 to 76)",
    )  # fmt: skip
    p.add_argument(
        "--networks", type=_positive_int(MAX_NETWORKS), default=400, metavar="N",
        help="AS numbers in the table",
    )  # fmt: skip
    p.add_argument(
        "--hours", type=float, default=6.0, metavar="H",
        help="hours the log spans, from 2026-11-27 00:00 UTC",
    )  # fmt: skip
    return p


def run_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    table = Path(args.table) if args.table else out.with_name(out.name + ".asn.tsv")
    corrupted = default_corrupted(args.lines) if args.corrupted is None else args.corrupted
    if not 0 <= corrupted <= args.lines:
        raise UsageError(f"--corrupted must be between 0 and --lines ({args.lines:,})")
    if not (math.isfinite(args.hours) and 1 / 3600 <= args.hours <= 24 * 366):
        raise UsageError("--hours must be between 1/3600 and 8,784 (a year)")
    if not 0 <= args.seed < 1 << 63:
        raise UsageError("--seed must be between 0 and 2**63 - 1")
    for option, path in (("OUT", out), ("--table", table)):
        if path.is_dir() or not path.parent.is_dir():
            raise UsageError(f"{option} {path}: not a file in an existing folder")
    try:
        truth = write_demo(
            out, table, lines=args.lines, seed=args.seed, corrupted=corrupted,
            networks=args.networks, hours=args.hours,
        )  # fmt: skip
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    print(
        f"wrote {out} ({count(truth.lines)} lines, {count(corrupted)} corrupted from "
        f"AS{SEED_ASN}) and {table} ({count(args.networks)} networks)\n"
        f"try: dpi-report --asn-table {table} {out}"
    )
    return EXIT_OK


def fetch_parser() -> argparse.ArgumentParser:
    p = parser("dpi-report fetch-table", FETCH_DESCRIPTION, FETCH_EPILOG)
    p.add_argument("url", metavar="URL", help="http:// or https:// address of the table")
    p.add_argument("out", metavar="OUT", help="where the checked table goes (its name: format)")
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS",
        help="give up when the server is silent this long",
    )  # fmt: skip
    p.add_argument(
        "--max-bytes", type=int, default=MAX_BYTES, metavar="N",
        help="refuse a download of more bytes than this",
    )  # fmt: skip
    p.add_argument(
        "--force", action="store_true",
        help="replace OUT even with under half its ranges",
    )  # fmt: skip
    return p


def run_fetch(args: argparse.Namespace) -> int:
    try:
        url = check_url(args.url)
    except ValueError as exc:
        raise UsageError(f"URL: {exc}") from None
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= 3600):
        raise UsageError("--timeout must be between 0 and 3600 seconds")
    if args.max_bytes < 1:
        raise UsageError("--max-bytes must be at least 1")
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise UsageError(f"OUT {out}: not a file in an existing folder")
    try:
        s = fetch_table(url, out, timeout=args.timeout, max_bytes=args.max_bytes, force=args.force)
    except FetchError as exc:
        print(f"error: {exc}; {out} left as it was", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # the temporary file beside OUT
        raise UsageError(f"OUT {out}: cannot write: {exc.strerror or exc}") from None
    before = f", was {count(s.previous_ranges)}" if s.previous_ranges is not None else ""
    print(
        f"fetched {redact(url)} → {out}: {count(s.bytes)} bytes in {s.seconds:.1f} s; "
        f"{count(s.ranges)} ranges{before}, {count(s.asns)} AS numbers, {count(s.named)} named"
    )
    return EXIT_OK
