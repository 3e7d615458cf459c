"""``dpi-report``: which networks corrupt traffic, from nginx logs and event files."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edgeward.cli import EXIT_OK, UsageError, parser, run, whole
from edgeward.logs import get_logger
from middleware.edge.realip import RealClient
from middleware.report.counts import count
from middleware.report.inputs import STDIN, Collected, InputError, total_size
from middleware.report.parallel import POOL_FROM, Reading, cpus, start
from middleware.report.recover import MAX_TRIES

# A plain run (`--asn-table T --json LOG`) imports only what reads, counts and writes JSON:
# every other feature (rich's bar and tables, HTML, partials, Dask, signed-URL recovery,
# the demo-log and fetch-table tools) is imported where it is used, so that a run over a
# small log is not mostly start-up (tests/middleware/cli/test_dpi_report_imports.py).
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

    from middleware.attribution.prefix_table import PrefixTable
    from middleware.report.build import Report, Tally
    from middleware.report.partial import Partial
    from middleware.signed import KeyRing

log = get_logger("middleware.dpi_report")

# name → (module, its parser function, its run function): imported when the tool is run.
TOOLS: dict[str, tuple[str, str, str]] = {
    "demo-log": ("middleware.cli.dpi_report_tools", "demo_parser", "run_demo"),
    "fetch-table": ("middleware.cli.dpi_report_tools", "fetch_parser", "run_fetch"),
    "merge": (__name__, "merge_parser", "_run_merge"),
}

MAX_JOBS = 256  # more processes than that is a typo
_PROGRESS_FROM = 16 << 20  # bytes of input from which a progress bar is worth showing
_MAX_SECONDS = 7 * 86400.0  # a budget beyond a week is a typo (and inf/NaN are refused)
RECOVER_MAX = 1000  # distinct corrupted signed URLs tried at most
RECOVER_SECONDS = 60.0  # total time spent on recovery at most

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
log line (same client and kind, within 2 s) is counted once. With logs among the inputs,
an event that matches no log line is set apart with its reason (outside the logs' time
span, or no log line shows it) and counted nowhere: no network is flagged on events alone.
A capture counts as a log here. Malformed lines are counted, skipped.
"""

EPILOG = """\
commands (instead of INPUT...):
  dpi-report demo-log OUT --lines N    a test log with the seed's incident, and its table
  dpi-report fetch-table URL OUT       download an IP→ASN table, checked before it is used
  dpi-report merge PARTIAL...          one report over partials (--partial) of many hosts
  (each has its own --help; a log file named like a command: ./demo-log)

examples:
  dpi-report --asn-table ip2asn-v4.tsv.gz /var/log/nginx/access.log*
  dpi-report --asn-table ipasn.dat --html report.html access.log.1.gz edge-events.jsonl
  dpi-report --asn-table ipasn.dat --json access.log > report.json
  dpi-report --asn-table ipasn.dat --keys /etc/edgeward/url-keys access.log
  dpi-report --asn-table ipasn.dat --json server.pcap.gz > report.json
  dpi-report demo-log demo.log --lines 20000 && dpi-report --asn-table demo.log.asn.tsv demo.log
  zcat access.log.*.gz | dpi-report --asn-table ipasn.dat -
  dpi-report --asn-table ipasn.dat --partial web1.json access.log   (on each host, then:)
  dpi-report merge --html report.html web1.json web2.json
  dpi-report --dask tcp://10.0.0.5:8786 --asn-table ipasn.dat web1::/var/log/nginx/access.log

exit codes: 0 report written (whether or not a network is flagged), 2 usage or input
error (including inputs with no nginx line, no event and no capture), 130 interrupted.

--keys FILE (signed-url key file): for each corrupted signed URL, the two corrupted bytes
are replaced by every pair of URL characters (at most 2 x 82^2 HMACs per URL, bounded by
--max-tries) and a candidate is kept when its signature verifies. "recovered k of n"
proves transport damage, not tampering: a forger cannot produce a URL that verifies.
A forged URL costs the whole search, so the total is bounded (--recover-max,
--recover-seconds); the report counts the URLs left untried.

SOURCE_DATE_EPOCH (Unix seconds), when set, is the report's "generated at" time: two runs
over the same inputs then write the same bytes.

--partial FILE writes what the report is built from, per AS number (schema
edgeward.dpi-report-partial/1: the inputs' lines, malformed lines and time spans, requests
per AS, the corrupted requests with their evidence), for `dpi-report merge`. The AS table
is applied then: merge refuses partials made with different tables. Partials of disjoint
inputs, merged in the inputs' order, give the report one run over all of them gives.

--dask URL (a Dask scheduler, tcp://HOST:PORT) reads each input on a worker of that
cluster and brings back only its counts: INPUT is a path on the workers, HOST::PATH one on
HOST's workers, so a fleet's logs are read where they are.

--json writes schema edgeward.dpi-report/1 (stable; keys are only ever added):
  schema, generated_at, inputs[{path,kind,lines,malformed,first,last}],
  spans{logs,events}, totals{requests,corrupted,rate,asns,flagged[asn]},
  test{method,correction,alpha,tested,threshold},
  asns[{asn,name,requests,corrupted,kinds{},rate,ci95[lo,hi],p_value,flagged,
        first_corrupted,last_corrupted}],
  unmatched_events{count,reasons{},asns{},explained{}},
  timeline{bucket_seconds,axis,series{asn:[[start,corrupted]]}},
  recovery{attempted,recovered,skipped,items[{corrupted,original,kid,tries}]} or null,
  captures{inputs[{path,format,frames,connections,http,tls,requests,gaps,...}],
    events[{time,client,kind,target,stream,frame,frames,ttl,ip_id,checksum,
            stream_ttls,peer_ttls,...}]}.
Unknown values are null; AS 0 is "unknown" (no table, or no prefix holds the client).
Times are ISO 8601 UTC (a capture event's time: Unix seconds, as in the capture).

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
"""

MERGE_DESCRIPTION = """\
One report over partials: the files `dpi-report --partial FILE` wrote, on one host or many.
The result is the table, HTML page or JSON document one run over all their inputs gives
(the partials in the inputs' order). Partials must have been made with the same
--asn-table; the recovery of signed URLs (--keys) runs here.
"""

MERGE_EPILOG = """\
examples:
  dpi-report merge web1.json web2.json
  dpi-report merge --json --keys /etc/edgeward/url-keys day-*.json > report.json
  dpi-report merge --partial week.json mon.json tue.json wed.json

exit codes: 0 report written, 2 usage error or a partial that cannot be read or merged
(not a partial, another schema, another AS table), 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser("dpi-report", DESCRIPTION, EPILOG)
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="nginx logs, event files, packet captures; - reads standard input",
    )
    p.add_argument(
        "--asn-table",
        metavar="FILE",
        help="IP→ASN table: iptoasn TSV (.gz), pyasn .dat, MaxMind ASN .mmdb",
    )
    _add_outputs(p)
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="as in dpi-watch: believe $proxy_protocol_addr / X-Forwarded-For from it",
    )
    _add_recovery(p)
    p.add_argument(
        "--dask",
        metavar="URL",
        help="read each input on a worker of the Dask scheduler at URL (tcp://HOST:PORT); "
        "HOST::PATH reads PATH on HOST's workers (the `dask` extra)",
    )
    p.add_argument(
        "--jobs",
        type=whole(1, MAX_JOBS),
        default=cpus(),
        metavar="N",
        help="processes reading the inputs (large plain logs are split by byte range; "
        f"under {POOL_FROM >> 20} MB in all, one); the report is the same for every N",
    )
    return p


def _add_outputs(p: argparse.ArgumentParser) -> None:
    """What a run and ``merge`` share: the outputs, the test, the recovery keys."""
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
    out.add_argument("--html", metavar="FILE", help="write a self-contained HTML page")
    out.add_argument(
        "--partial",
        metavar="FILE",
        help="write the counts (JSON) for `dpi-report merge` instead of a report",
    )
    p.add_argument(
        "--alpha", type=float, default=0.05, metavar="P", help="family-wise significance level"
    )
    p.add_argument(
        "--top",
        type=int,
        default=20,
        metavar="N",
        help="table rows; flagged and corrupted networks are always shown",
    )


def _add_recovery(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recover-max",
        type=int,
        default=RECOVER_MAX,
        metavar="N",
        help="with --keys: distinct corrupted signed URLs tried at most; the rest are counted",
    )
    p.add_argument(
        "--recover-seconds",
        type=float,
        default=RECOVER_SECONDS,
        metavar="SECONDS",
        help="with --keys: total seconds for recovery at most; a forged URL costs 70-260 ms",
    )
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def merge_parser() -> argparse.ArgumentParser:
    p = parser("dpi-report merge", MERGE_DESCRIPTION, MERGE_EPILOG)
    p.add_argument("partials", nargs="+", metavar="PARTIAL", help="files written by --partial")
    _add_outputs(p)
    _add_recovery(p)
    return p


def _writable(option: str, path: Path) -> None:
    """Refuse an output path that cannot be written, before any input is read."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: folder {parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path}: not writable (permission denied)")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot create a file in {parent} (permission denied)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _load_keys(path: str) -> KeyRing:
    from middleware.signed import KeyFileError, KeyRing

    p = Path(path)
    if p.is_dir():
        raise UsageError(f"--keys {p}: is a directory, not a signed-url key file")
    if p.exists() and not p.is_file():  # a FIFO would block, a device is no key file
        raise UsageError(f"--keys {p}: not a regular file")
    try:
        return KeyRing.from_file(p)
    except KeyFileError as exc:
        raise UsageError(f"--keys: {exc}") from None
    except (OSError, ValueError) as exc:  # a FIFO, a device, an I/O error
        raise UsageError(f"--keys {p}: cannot read: {exc}") from None


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, emoji=False)


def _bar(*columns: ProgressColumn) -> Progress:
    """A progress bar on standard error (on a terminal), gone when done."""
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), *columns, console=_stderr(), transient=True
    )


def _finish(reading: Reading, paths: list[Path], quiet: bool) -> Collected:
    """What ``reading`` reads, with a progress bar on a terminal when it takes a while."""
    size = total_size(paths)
    if quiet or size < _PROGRESS_FROM:
        return reading.finish()
    from rich.progress import DownloadColumn, TimeRemainingColumn

    # Nothing logs while the bar is live (a log line would land inside it): the per-input
    # summaries are logged once the bar is gone.
    with _bar(DownloadColumn(), TimeRemainingColumn()) as progress:
        names = ", ".join(p.name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        task = progress.add_task(f"reading {names}", total=size)
        return reading.finish(advance=lambda n: progress.advance(task, n))


def _check_options(args: argparse.Namespace, paths: list[str]) -> None:
    """Option values a run and ``merge`` refuse before reading anything."""
    if not 0 < args.alpha < 1:
        raise UsageError("--alpha must be between 0 and 1")
    if args.max_tries < 0:
        raise UsageError("--max-tries must be >= 0")
    if args.top < 0:
        raise UsageError("--top must be >= 0")
    if args.recover_max < 0:
        raise UsageError("--recover-max must be >= 0")
    if not 0 <= args.recover_seconds <= _MAX_SECONDS:
        raise UsageError(f"--recover-seconds must be between 0 and {_MAX_SECONDS:g}")
    if args.partial and args.keys:
        raise UsageError("--keys recovers URLs in a report: give it to `dpi-report merge`")
    for option, value in (("--asn-table", getattr(args, "asn_table", None)),
                          ("--keys", args.keys), ("--html", args.html),
                          ("--partial", args.partial), *(("INPUT", i) for i in paths)):  # fmt: skip
        if value is not None and "\0" in value:  # no shell passes one; Python refuses it
            raise UsageError(f"{option}: a path cannot hold a NUL byte")
    for option, out in (("--html", args.html), ("--partial", args.partial)):
        if out is None:
            continue
        _writable(option, Path(out))
        for name in paths:
            if _same_file(Path(out), Path(name)):
                raise UsageError(f"{option} {out}: is also an input; it would be overwritten")


def _table_readable(path: str) -> None:
    """Refuse a table file that cannot be opened before the inputs are (its contents are
    checked by :func:`_load_table` while the workers read)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"--asn-table {path}: cannot read: {exc}") from None


def _load_table(path: str) -> PrefixTable:
    from middleware.attribution.prefix_table import PrefixTable, TableError

    try:
        return PrefixTable.load(path)
    except TableError as exc:
        raise UsageError(f"--asn-table: {exc}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--asn-table {path}: cannot read: {exc}") from None


def _main(args: argparse.Namespace) -> int:
    _check_options(args, args.inputs)
    if args.inputs.count("-") > 1:
        raise UsageError("INPUT: standard input (-) can be read once")
    try:
        trusted = RealClient(args.trusted_proxy)
    except ValueError as exc:
        raise UsageError(f"--trusted-proxy: {exc}") from None
    if args.asn_table:
        _table_readable(args.asn_table)
    keys = _load_keys(args.keys) if args.keys else None
    table: PrefixTable | None = None
    try:
        if args.dask:
            from middleware.report import dask_map

            table = _load_table(args.asn_table) if args.asn_table else None
            collected = dask_map.read_on_dask(args.dask, args.inputs, args.trusted_proxy)
        else:
            paths = [STDIN if p == "-" else Path(p) for p in args.inputs]
            with start(paths, jobs=args.jobs, trusted=trusted) as reading:
                # The workers are reading already: the table and the code that writes the
                # report are loaded meanwhile (this process then reads fewer parts).
                table = _load_table(args.asn_table) if args.asn_table else None
                _import_output(args)
                collected = _finish(reading, paths, args.no_progress)
        _check_read(collected)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    from middleware.report.build import tally

    counts = tally(collected, table)
    if args.partial:
        from middleware.report.partial import Partial, table_digest

        digest = table_digest(Path(args.asn_table)) if args.asn_table else None
        name = Path(args.asn_table).name if args.asn_table else ""
        return _write_partial(Path(args.partial), Partial(counts, digest, name))
    return _report(counts, args, keys)


def _import_output(args: argparse.Namespace) -> None:
    """Import what building and writing this run's output takes (otherwise imported after
    the reading, when the workers are done and one core is idle)."""
    importlib.import_module("middleware.report.build")
    if args.partial:
        importlib.import_module("middleware.report.partial")
    elif args.json:
        importlib.import_module("middleware.report.render_json")
    elif args.html:
        importlib.import_module("middleware.report.render_html")
    else:
        importlib.import_module("middleware.report.render_text")


def _run_merge(args: argparse.Namespace) -> int:
    from middleware.report.partial import PartialError, merge, read_partial

    _check_options(args, args.partials)
    keys = _load_keys(args.keys) if args.keys else None
    try:
        merged = merge([(p, read_partial(Path(p))) for p in args.partials])
    except PartialError as exc:
        raise UsageError(str(exc)) from None
    seen: set[str] = set()
    for i in merged.counts.inputs:
        if i.path in seen:
            log.warning("%s: in more than one partial: its lines are counted again", i.path)
        seen.add(i.path)
    if args.partial:
        return _write_partial(Path(args.partial), merged)
    return _report(merged.counts, args, keys)


def _write_partial(out: Path, partial: Partial) -> int:
    from middleware.report.partial import write_partial

    try:
        write_partial(out, partial)
    except OSError as exc:
        raise UsageError(f"--partial {out}: cannot write: {exc.strerror or exc}") from None
    counts = partial.counts
    _stderr().print(
        f"wrote {out} ({len(counts.inputs)} input(s), {count(sum(counts.requests.values()))} "
        f"requests, {count(len(counts.corrupted))} corrupted)",
        markup=False,
        soft_wrap=True,
    )
    return EXIT_OK


def _report(counts: Tally, args: argparse.Namespace, keys: KeyRing | None) -> int:
    """Build the report over ``counts`` (recovering URLs with ``keys``) and write it."""
    from middleware.report.build import report_of

    options = {
        "alpha": args.alpha,
        "keys": keys,
        "max_tries": args.max_tries,
        "recover_max": args.recover_max,
        "recover_seconds": args.recover_seconds,
    }
    if args.no_progress or keys is None:  # no bar: rich is not even imported
        report = report_of(counts, **options)
    else:
        from rich.progress import MofNCompleteColumn, TimeElapsedColumn

        with _bar(MofNCompleteColumn(), TimeElapsedColumn()) as progress:
            rec = progress.add_task("recovering signed URLs", total=None)
            report = report_of(
                counts,
                **options,
                on_recovery=lambda i, n: progress.update(rec, completed=i, total=n),
            )
    if report.recovery_skipped:
        log.warning(
            "signed-URL recovery budget spent: %s distinct URL(s) not tried "
            "(--recover-max %s, --recover-seconds %s)",
            count(report.recovery_skipped),
            args.recover_max,
            f"{args.recover_seconds:g}",
        )
    _write_report(report, args)
    return EXIT_OK


def _write_report(report: Report, args: argparse.Namespace) -> None:
    if args.json:
        from middleware.report.render_json import render_json

        sys.stdout.write(render_json(report))
    elif args.html:
        from middleware.report.render_html import render_html

        out = Path(args.html)
        try:
            out.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--html {out}: cannot write: {exc.strerror or exc}") from None
        _stderr().print(
            f"wrote {out} ({len(report.flagged)} network(s) flagged)", markup=False, soft_wrap=True
        )
    else:
        from rich.console import Console

        from middleware.report.render_text import render_text

        # Piped output would otherwise wrap at 80 columns and fold the names.
        render_text(
            report,
            Console(width=None if sys.stdout.isatty() else 132, emoji=False),
            top=args.top,
        )


def _check_read(collected: Collected) -> None:
    """After reading (here or on Dask workers): refuse inputs without one usable line, and
    log each input's summary (once any progress bar is gone)."""
    if all(i.capture is None and i.lines == i.malformed for i in collected.inputs):
        what = ", ".join(
            f"{i.path}: {count(i.lines)} lines" + (" (all malformed)" if i.lines else "")
            for i in collected.inputs
        )
        raise InputError(
            f"no nginx access-log line and no event in the inputs ({what}); dpi-report reads "
            "nginx access logs (combined, edgeward_json), dpi-watch/attributor event files "
            "and packet captures (pcap, pcapng)"
        )
    for stats in collected.inputs:
        log.info(
            "%s: %s, %s %s, %s malformed",
            stats.path,
            stats.kind,
            count(stats.lines),
            "requests" if stats.capture else "lines",
            count(stats.malformed),
        )
        if stats.lines and stats.malformed == stats.lines:
            log.warning(
                "%s: no line is a %s line (all %s malformed)",
                stats.path,
                stats.kind,
                count(stats.lines),
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in TOOLS:  # `dpi-report demo-log ...`; a log named so: ./demo-log
        module, build, func = TOOLS[args[0]]
        tool = importlib.import_module(module)
        return run(_one_line(getattr(tool, func)), getattr(tool, build)().parse_args(args[1:]))
    return run(_one_line(_main), build_parser().parse_args(args))


def printable(text: str) -> str:
    """Control characters (a newline, an escape sequence in a file name) escaped: an error
    stays one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _one_line(
    func: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except UsageError as exc:
            raise UsageError(printable(str(exc))) from None

    return wrapped


if __name__ == "__main__":
    sys.exit(main())
