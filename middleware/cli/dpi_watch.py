"""``dpi-watch``: the edge sensor over nginx's access log (file tail or syslog)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeward.cli import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    command_group,
    group_parser,
    whole,
)
from edgeward.lifecycle import daemon, metrics_enabled
from edgeward.logs import get_logger
from edgeward.netaddr import parse_hostport
from middleware.attribution.attributor import Attributor
from middleware.attribution.eventlog import DEFAULT_KEEP, DEFAULT_MAX_BYTES, DEFAULT_RATE, EventLog
from middleware.attribution.prefix_table import PrefixTable, TableError
from middleware.attribution.whois import WhoisResolver
from middleware.corruption.client_address import AddressSet
from middleware.edge.nginx_log import LOG_FORMATS
from middleware.edge.realip import RealClient
from middleware.edge.watch import EdgeIngest, run_syslog, run_tail

log = get_logger("middleware.dpi_watch")

DESCRIPTION = """\
Read nginx's access log, classify every request line, count every request under its
client's network (AS number) and record each corrupted one (the 0x80 0x01 / 0x80 0x04
signature of faulty deep-packet-inspection gear, control bytes, invalid UTF-8).
nginx refuses such request lines with 400 before any app sees them: its log is the only
place they show. Metrics on --metrics-listen (/metrics):
  edgeward_requests_by_asn_total{asn}                 every request (the denominator)
  edgeward_corruption_events_total{kind,source="edge",asn}
  edgeward_edge_log_lines_total{result="parsed|malformed"}
"""

EPILOG = """\
examples:
  # follow the file nginx writes (rotation, truncation and a file created later are fine)
  dpi-watch tail /var/log/nginx/access.log --asn-table ip2asn-v4.tsv.gz \\
      --events /var/lib/edgeward/edge-events.jsonl

  # receive `access_log syslog:server=127.0.0.1:5140 edgeward_json;` datagrams
  dpi-watch syslog --listen 127.0.0.1:5140 --nginx-format json --asn-table ipasn.dat

  # nginx behind a TCP load balancer at 10.0.0.5 speaking the PROXY protocol
  dpi-watch tail access.log --nginx-format json --trusted-proxy 10.0.0.5

log formats (deploy/nginx/edgeward-log-formats.conf):
  combined   nginx's default; corrupted bytes appear as \\xHH escapes
  json       edgeward_json (escape=json): raw bytes, invalid UTF-8 on purpose
A line that does not parse is counted (result="malformed") and skipped, never fatal.

exit codes: 0 stopped by SIGINT/SIGTERM, 1 cannot listen or read, 2 usage/config error.
"""
_PER_MIN = whole(1, 100_000)  # --whois-per-minute (argparse names the option, exit 2)


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``tail`` and ``syslog`` share."""
    g = p.add_argument_group("attribution")
    g.add_argument(
        "--asn-table",
        metavar="FILE",
        help="offline IP→ASN table: iptoasn TSV (.gz), pyasn .dat, MaxMind ASN .mmdb "
        "(without it every client is 'unknown')",
    )
    g.add_argument(
        "--events",
        metavar="FILE",
        help="append each corruption event as one JSON line (dpi-report reads it)",
    )
    g.add_argument(
        "--events-per-second",
        type=float,
        default=DEFAULT_RATE,
        metavar="N",
        help="at most N event lines a second (bursts of 10 N) in --events and the log; "
        "events over it are counted (edgeward_attribution_suppressed_total), not written",
    )
    g.add_argument(
        "--events-max-mb",
        type=float,
        default=DEFAULT_MAX_BYTES >> 20,
        metavar="MB",
        help="rotate --events before it grows past MB megabytes (FILE.1 ... FILE.N)",
    )
    g.add_argument(
        "--events-keep",
        type=int,
        default=DEFAULT_KEEP,
        metavar="N",
        help="rotated events files kept",
    )
    g.add_argument(
        "--whois",
        action="store_true",
        help="for corrupted requests from public addresses the table lacks, ask Team Cymru "
        "through ipwhois (DNS method; in worker threads, cached, at most --whois-per-minute)",
    )
    g.add_argument(
        "--whois-dns",
        metavar="HOST[:PORT]",
        help="the DNS server ipwhois asks (default: the system's resolver)",
    )
    g.add_argument(
        "--whois-per-minute", type=_PER_MIN, default=60, metavar="N", help="whois lookups a minute"
    )
    g.add_argument(
        "--top-n",
        type=whole(0, 10_000),
        default=20,
        metavar="N",
        help="AS numbers with their own metric series by volume (the rest: 'other')",
    )
    g.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a proxy whose $proxy_protocol_addr / X-Forwarded-For is believed when it is "
        "the logged $remote_addr (repeat; default none: $remote_addr is the client)",
    )
    p.add_argument(
        "--nginx-format",
        choices=LOG_FORMATS,
        default="combined",
        help="the nginx log_format of the input",
    )
    p.add_argument(
        "--metrics-listen",
        default="127.0.0.1:9467",
        metavar="HOST:PORT",
        help="serve /metrics here ('off' to disable)",
    )


def build_parser() -> argparse.ArgumentParser:
    return group_parser(
        "dpi-watch", DESCRIPTION, "middleware.cli.watch", ["tail", "syslog"], epilog=EPILOG
    )


def _resolver(args: argparse.Namespace) -> WhoisResolver | None:
    if not args.whois:
        if args.whois_dns:
            raise UsageError("--whois-dns needs --whois")
        return None
    nameservers, port = None, 53
    if args.whois_dns:
        try:
            host, port = parse_hostport(args.whois_dns, default_port=53)
        except ValueError as exc:
            raise UsageError(f"--whois-dns: {exc}") from None
        nameservers = [host]
    try:
        return WhoisResolver(nameservers=nameservers, port=port, per_minute=args.whois_per_minute)
    except ValueError as exc:
        raise UsageError(f"--whois: {exc}") from None


def _event_log(args: argparse.Namespace) -> EventLog:
    rate = args.events_per_second
    if not math.isfinite(rate) or not 0 < rate <= 1e6:
        raise UsageError("--events-per-second must be a number above 0 and at most 1000000")
    size = args.events_max_mb
    if not math.isfinite(size) or not 1 <= size <= 1 << 20:
        raise UsageError("--events-max-mb must be a number from 1 to 1048576")
    if not 1 <= args.events_keep <= 1000:
        raise UsageError("--events-keep must be from 1 to 1000")
    return EventLog(
        args.events,
        rate=rate,
        burst=max(1, int(rate * 10)),
        max_bytes=int(size * (1 << 20)),
        keep=args.events_keep,
    )


def _check_listen(value: str, option: str) -> None:
    """``HOST:PORT`` with an IP address (or ``localhost``): a name would need DNS."""
    try:
        host, _port = parse_hostport(value)
        if host != "localhost":
            ipaddress.ip_address(host)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _allow(items: list[str] | None) -> AddressSet | None:
    if items is None:
        return None
    try:
        return AddressSet([i for item in items for i in item.split(",")])
    except ValueError as exc:
        raise UsageError(f"--allow-from: {exc}".replace("trusted_proxies: ", "")) from None


@dataclass
class Prepared:
    """Everything a run needs, built from the options before anything starts."""

    ingest: EdgeIngest
    attributor: Attributor
    resolver: WhoisResolver | None
    allow: AddressSet | None

    def close(self) -> None:
        if self.resolver is not None:
            self.resolver.close()


def prepare(args: argparse.Namespace) -> Prepared:
    """Check every option (``UsageError`` names the one at fault) and build the parts."""
    try:
        trusted = RealClient(args.trusted_proxy)
    except ValueError as exc:
        raise UsageError(f"--trusted-proxy: {exc}") from None
    if metrics_enabled(args.metrics_listen):
        _check_listen(args.metrics_listen, "--metrics-listen")
    allow = None
    if args.command == "syslog":
        _check_listen(args.listen, "--listen")
        allow = _allow(args.allow_from)
    if args.command == "tail":
        for name in args.files:
            if "\x00" in name:
                raise UsageError(f"FILE: {name!r} holds a NUL byte")
    _check_events_file(args.events)
    event_log = _event_log(args)
    table = _table(args.asn_table)
    resolver = _resolver(args)
    attributor = Attributor(
        table=table, resolver=resolver, events_path=args.events, top_n=args.top_n,
        event_log=event_log,
    )  # fmt: skip
    ingest = EdgeIngest(attributor, log_format=args.nginx_format, trusted=trusted)
    return Prepared(ingest, attributor, resolver, allow)


def _check_events_file(path: str | None) -> None:
    """Fail at start, not at the first event, when the events file cannot be written (its
    folder is made, as the event log itself would)."""
    if path is None:
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="ascii"):
            pass
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"--events {path}: {detail}") from None


def _table(path: str | None) -> PrefixTable | None:
    if not path:
        return None
    try:
        table = PrefixTable.load(path)
    except (TableError, OSError, ValueError) as exc:
        raise UsageError(f"--asn-table: {exc}") from None
    log.info("ASN table %s: %d prefixes", path, len(table))
    return table


async def _serve(args: argparse.Namespace) -> int:
    prepared = prepare(args)
    ingest, attributor = prepared.ingest, prepared.attributor
    try:
        async with daemon(args.metrics_listen) as life:
            life.on_exit(attributor.stop)
            await attributor.start()
            if args.command == "tail":
                await run_tail(
                    args.files, ingest, life.stop, interval=args.interval,
                    from_start=args.from_start,
                )  # fmt: skip
            else:
                await run_syslog(args.listen, ingest, life.stop, allow=prepared.allow)
    except OSError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except Exception:  # a bug, not an input: stop loudly so a supervisor restarts us
        log.exception("the edge sensor stopped")
        return EXIT_FAILED
    finally:
        prepared.close()
    log.info("stopped: %r", ingest)
    return EXIT_OK


def run_daemon(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "dpi-watch", DESCRIPTION, "middleware.cli.watch", ["tail", "syslog"], argv, epilog=EPILOG
    )


if __name__ == "__main__":
    sys.exit(main())
