"""``dpi-report``: which networks corrupt traffic, from nginx logs and event files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from edgeward.cli import EXIT_OK, UsageError, parser, run
from edgeward.logs import get_logger
from middleware.attribution.prefix_table import PrefixTable, TableError
from middleware.edge.realip import TrustedProxies
from middleware.report.build import build_report
from middleware.report.inputs import Collected, InputError, read_file, total_size
from middleware.report.recover import MAX_TRIES
from middleware.report.render_html import render_html
from middleware.report.render_json import render_json
from middleware.report.render_text import render_text
from middleware.signed import KeyFileError, KeyRing

log = get_logger("middleware.dpi_report")

_PROGRESS_FROM = 16 << 20  # bytes of input from which a progress bar is worth showing

DESCRIPTION = """\
Which networks (AS numbers) send corrupted requests, and is any of them significantly
worse than the rest? Reads nginx access logs (combined or edgeward_json, plain or .gz),
JSONL event files (dpi-watch --events, the ASGI sensor's attributor) and packet captures
(pcap or pcapng, plain or .gz; the `capture` extra); a capture is recognised by its magic
bytes, the kind of any other input is sniffed from its first line.

Per AS: requests (from the logs), corrupted requests, rate, 95 % Wilson score interval,
one-sided p-value, flag.

The test: given N requests of which K are corrupted, if corruption struck regardless of
network, an AS with n requests would hold a hypergeometric number of the K. Its p-value
is the chance of seeing its count k or more under that assumption (Fisher's exact test,
one-sided: this AS against all others). Hundreds of AS numbers are tested at once, so an
AS is flagged only when p < alpha / m (Bonferroni; m = AS numbers with requests): the
chance that a report flags any network by luck alone stays below alpha. Exact counts, so
it is valid for 1, 2 or 76 events; a network can be flagged with few events only when it
sends few requests.

Counting: requests come from logs and captures only; an event that repeats a corrupted
log line (same client and kind, within 2 s) is counted once. Malformed lines are counted,
skipped.
"""

EPILOG = """\
examples:
  dpi-report --asn-table ip2asn-v4.tsv.gz /var/log/nginx/access.log*
  dpi-report --asn-table ipasn.dat --html report.html access.log.1.gz edge-events.jsonl
  dpi-report --asn-table ipasn.dat --json access.log > report.json
  dpi-report --asn-table ipasn.dat --keys /etc/edgeward/url-keys access.log
  dpi-report --asn-table ipasn.dat --json server.pcap.gz > report.json

--keys FILE (signed-url key file): for each corrupted signed URL, the two corrupted bytes
are replaced by every pair of URL characters (at most 2 x 82^2 HMACs per URL, bounded by
--max-tries) and a candidate is kept when its signature verifies. "recovered k of n"
proves transport damage, not tampering: a forger cannot produce a URL that verifies.

--json writes schema edgeward.dpi-report/1 (stable; keys are only ever added):
  schema, generated_at, inputs[{path,kind,lines,malformed}],
  totals{requests,corrupted,rate,asns,flagged[asn]},
  test{method,correction,alpha,tested,threshold},
  asns[{asn,name,requests,corrupted,kinds{},rate,ci95[lo,hi],p_value,flagged}],
  timeline{bucket_seconds,series{asn:[[start,corrupted]]}},
  recovery{attempted,recovered,items[{corrupted,original,kid,tries}]} or null,
  captures{inputs[{path,format,frames,connections,http,tls,requests,gaps,...}],
    events[{time,client,kind,target,stream,frame,frames,ttl,ip_id,checksum,
            stream_ttls,peer_ttls,...}]}.
Unknown values are null; AS 0 is "unknown" (no table, or no prefix holds the client).

packet captures: take them on the server, whole packets, HTTP in clear (not port 443:
TLS is counted as not inspectable, never guessed at):
  tcpdump -i any -s 0 -w FILE 'tcp port 80'                     (stop with Ctrl-C)
  tcpdump -i any -s 0 -C 100 -W 20 -w FILE 'tcp port 80'       (rotate: 20 x 100 MB)
Per corrupted request a capture adds its TCP stream (Wireshark's tcp.stream), frame
numbers, capture time, the damaged frame's IP TTL and IP ID next to the client's other
segments' TTLs (a rewriting middlebox often shows its own), and whether its TCP checksum
is valid (valid with damaged bytes: whatever changed them recomputed the checksum, a
middlebox or the sender, not the line). Give either the logs or the captures of the
same traffic, not both: each counts the requests.

exit codes: 0 report written (whether or not a network is flagged), 2 usage or input error.
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser("dpi-report", DESCRIPTION, EPILOG)
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="nginx logs, event files, packet captures"
    )
    p.add_argument(
        "--asn-table",
        metavar="FILE",
        help="IP→ASN table: iptoasn TSV (.gz), pyasn .dat, MaxMind ASN .mmdb",
    )
    p.add_argument("--keys", metavar="FILE", help="signed-url key file: recover corrupted URLs")
    p.add_argument(
        "--max-tries",
        type=int,
        default=MAX_TRIES,
        metavar="N",
        help="signature checks per corrupted URL at most",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="write JSON to standard output")
    out.add_argument("--html", metavar="OUT", help="write a self-contained HTML page")
    p.add_argument("--alpha", type=float, default=0.05, help="family-wise significance level")
    p.add_argument("--top", type=int, default=20, help="table rows (flagged/corrupted always)")
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="as in dpi-watch: believe $proxy_protocol_addr / X-Forwarded-For from it",
    )
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    return p


def _main(args: argparse.Namespace) -> int:
    if not 0 < args.alpha < 1:
        raise UsageError("--alpha must be between 0 and 1")
    if args.max_tries < 0:
        raise UsageError("--max-tries must be >= 0")
    try:
        trusted = TrustedProxies(args.trusted_proxy)
    except ValueError as exc:
        raise UsageError(f"--trusted-proxy: {exc}") from None
    table = None
    if args.asn_table:
        try:
            table = PrefixTable.load(args.asn_table)
        except TableError as exc:
            raise UsageError(str(exc)) from None
    keys = None
    if args.keys:
        try:
            keys = KeyRing.from_file(args.keys)
        except KeyFileError as exc:
            raise UsageError(str(exc)) from None
    paths = [Path(p) for p in args.inputs]
    err = Console(stderr=True, emoji=False)
    try:
        size = total_size(paths)
        collected = Collected()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=args.no_progress or size < _PROGRESS_FROM,
        ) as progress:
            task = progress.add_task("reading", total=size)
            for path in paths:
                progress.update(task, description=f"reading {path.name}")
                stats = read_file(
                    path, collected, trusted=trusted, advance=lambda n: progress.advance(task, n)
                )
                log.info(
                    "%s: %s, %d %s, %d malformed",
                    path,
                    stats.kind,
                    stats.lines,
                    "requests" if stats.capture else "lines",
                    stats.malformed,
                )
            rec = progress.add_task("recovering signed URLs", total=None, visible=keys is not None)
            report = build_report(
                collected,
                table,
                alpha=args.alpha,
                keys=keys,
                max_tries=args.max_tries,
                on_recovery=lambda i, n: progress.update(rec, completed=i, total=n),
            )
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        sys.stdout.write(render_json(report))
    elif args.html:
        out = Path(args.html)
        try:
            out.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
        err.print(
            f"wrote {out} ({len(report.flagged)} network(s) flagged)", markup=False, soft_wrap=True
        )
    else:
        # Piped output would otherwise wrap at 80 columns and fold the names.
        render_text(
            report,
            Console(width=None if sys.stdout.isatty() else 132, emoji=False),
            top=args.top,
        )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
