"""The edge sensor: blocks of nginx log lines → denominator counts and corruption events.

:class:`EdgeIngest` is synchronous and does no I/O; the file tail and the syslog listener
(:func:`run_tail`, :func:`run_syslog`) hand it blocks of complete lines. Per block:

- every parsed line is one request of its client's AS. A block's clients are counted
  with ``Counter`` (C), each distinct client is mapped to its AS through a cache (the
  prefix table's integer path is consulted once per new address), and the per-AS sums go
  to the attributor (:func:`count_asns`) at most every ``flush_every`` seconds and on
  :meth:`flush`: a Prometheus increment per line, or even per block, would cost more than
  all the parsing;
- lines whose request line may be corrupted are parsed in full, classified
  (:func:`middleware.corruption.classify.classify`) and submitted as ``source="edge"``
  events; the attributor resolves and records them in the background;
- malformed lines are counted (``edgeward_edge_log_lines_total{result="malformed"}``) and
  skipped: the parsers raise nothing but ``MalformedLine`` on any input (fuzzed);
- the time of the last line read is kept, and exported as its age
  (``edgeward_edge_last_line_age_seconds``): an ingest that has stalled shows, and alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Container, Iterable, Mapping
from itertools import repeat
from pathlib import Path
from typing import Final

from edgeward.logs import get_logger
from middleware.attribution.attributor import Attributor
from middleware.attribution.events import CorruptionEvent
from middleware.corruption.classify import classify
from middleware.edge import syslog
from middleware.edge.fastscan import CombinedScan, needs_classify
from middleware.edge.nginx_log import (
    LogFormat,
    LogRecord,
    MalformedLine,
    parser_for,
    sniff_format,
)
from middleware.edge.realip import RealClient
from middleware.edge.tail import FileFollower
from middleware.metrics import (
    EDGE_LAST_LINE_AGE,
    EDGE_LOG_LINES,
    EDGE_SYSLOG_REFUSED,
    REQUESTS_BY_ASN,
)

log = get_logger("middleware.edge.watch")

_CACHE_SIZE: Final = 100_000  # distinct client addresses whose AS is remembered
_PARSED = EDGE_LOG_LINES.labels("parsed")
_MALFORMED = EDGE_LOG_LINES.labels("malformed")


def count_asns(attributor: Attributor, counts: Mapping[int, int]) -> None:
    """``attributor.count_asn(asn, n)`` for every item, one metric increment per label.

    Same effect as the loop (the attributor's label policy decides each AS's label and sees
    every volume), but many AS numbers share a label (``other``), and one Prometheus
    increment costs more than the policy: increments are summed per label first.
    """
    labels = attributor.labels
    by_label: dict[str, int] = {}
    for asn, n in counts.items():
        label = labels.request(asn, n)
        by_label[label] = by_label.get(label, 0) + n
    for label, n in by_label.items():
        REQUESTS_BY_ASN.labels(label).inc(n)


class EdgeIngest:
    def __init__(
        self,
        attributor: Attributor,
        *,
        log_format: LogFormat = "combined",
        trusted: RealClient | None = None,
        flush_every: float = 1.0,
    ) -> None:
        self.attributor = attributor
        self.flush_every = flush_every
        self.log_format: LogFormat = log_format
        self.trusted = trusted if trusted else None
        self.lines = 0
        self.malformed = 0
        self.corrupted = 0
        self._parse = parser_for(log_format)
        self._asn_of: dict[bytes, int] = {}
        self._scan = CombinedScan(self.trusted)  # one per stream: it learns the line shape
        self._pending: dict[int, int] = {}  # requests by AS, not yet counted
        self._flushed = time.monotonic()
        self.last_line = self._flushed  # monotonic time of the last line read (or start)
        EDGE_LAST_LINE_AGE.set_function(self.last_line_age)

    def __repr__(self) -> str:
        return (
            f"EdgeIngest(format={self.log_format}, lines={self.lines}, "
            f"malformed={self.malformed}, corrupted={self.corrupted})"
        )

    def last_line_age(self) -> float:
        """Seconds since the last line was read (since this ingest began, before any)."""
        return time.monotonic() - self.last_line

    def feed(self, block: bytes) -> None:
        """Take complete log lines, each ending in ``\\n`` (the last one may omit it)."""
        if not block:
            return
        self.last_line = time.monotonic()
        if self.log_format == "combined":
            scan = self._scan
            before = scan.lines, scan.malformed
            scan.feed(block)
            self._count(scan.take())
            lines, malformed = scan.lines - before[0], scan.malformed - before[1]
            candidates, scan.candidates = scan.candidates, []
            for line in candidates:
                try:
                    self._inspect(self._parse(line))
                except MalformedLine:  # the fast scan passed it, the full parse did not
                    malformed += 1
        else:
            lines, malformed = self._feed_lines(block.split(b"\n"))
        self.lines += lines
        self.malformed += malformed
        _PARSED.inc(lines - malformed)
        if malformed:
            _MALFORMED.inc(malformed)
        if time.monotonic() - self._flushed >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Hand the pending per-AS request counts to the attributor (its metrics)."""
        pending, self._pending = self._pending, {}
        self._flushed = time.monotonic()
        count_asns(self.attributor, pending)

    def _feed_lines(self, lines: Iterable[bytes]) -> tuple[int, int]:
        clients: list[bytes] = []
        total = malformed = 0
        for line in lines:
            if not line.strip():
                continue
            total += 1
            try:
                record = self._parse(line)
            except MalformedLine:
                malformed += 1
                continue
            client = self.trusted.client_of(record) if self.trusted else record.client
            clients.append(client.encode())
            if needs_classify(record.request):
                self._inspect(record, client)
        self._count(clients)
        return total, malformed

    def _count(self, clients: list[bytes]) -> None:
        # Count per client first (C, into a small per-block dict: cache-friendly), then
        # visit each distinct client once; per line nothing runs in Python.
        counts = Counter(clients)
        cache = self._asn_of
        new = set(counts).difference(cache)
        if new:
            if len(cache) + len(new) > _CACHE_SIZE:
                cache.clear()  # simplest bound; refilled at one lookup per address
                new = set(counts)
            cache.update(self._lookup_many(list(new)))
        pending = self._pending
        for client, n in counts.items():
            asn = cache[client]
            pending[asn] = pending.get(asn, 0) + n

    def _lookup_many(self, clients: list[bytes]) -> Iterable[tuple[bytes, int]]:
        """``(client, asn)`` pairs (:meth:`PrefixTable.asns_of`)."""
        table = self.attributor.table
        if table is None:
            return zip(clients, repeat(0))
        return zip(clients, table.asns_of(clients), strict=True)

    def _inspect(self, record: LogRecord, client: str | None = None) -> None:
        finding = classify(record.request)
        if finding is None:
            return
        if client is None:
            client = self.trusted.client_of(record) if self.trusted else record.client
        self.corrupted += 1
        # DEBUG: the attributor logs each event once at INFO, under its rate limit.
        log.debug(
            "corrupted request line from %s: %s at byte %d (%s)",
            client,
            finding.kind,
            finding.offset,
            finding.evidence_hex,
        )
        self.attributor.submit(
            CorruptionEvent(
                time=record.time or time.time(),
                source="edge",
                kind=finding.kind,
                client=client,
                evidence_hex=finding.evidence_hex,
                offset=finding.offset,
                detail="request_line",
            )
        )


async def _report_every(ingest: EdgeIngest, every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            event_log = ingest.attributor.event_log
            log.info(
                "lines=%d malformed=%d corrupted=%d dropped=%d suppressed=%d",
                ingest.lines,
                ingest.malformed,
                ingest.corrupted,
                ingest.attributor.dropped,
                event_log.suppressed,
            )
            event_log.summary()


class FormatCheck:
    """Warns once when every line read from a file so far is malformed for the chosen
    format (``--nginx-format combined`` on an ``edgeward_json`` log reads nothing): the
    counts alone would look like a quiet site."""

    __slots__ = ("fmt", "lines", "malformed", "path", "warned")
    AFTER: Final = 5  # lines: a single cut line at start is no reason to warn

    def __init__(self, path: Path, fmt: LogFormat) -> None:
        self.path = path
        self.fmt = fmt
        self.lines = self.malformed = 0
        self.warned = False

    def saw(self, block: bytes, lines: int, malformed: int) -> None:
        self.lines += lines
        self.malformed += malformed
        if self.warned or self.lines < self.AFTER or self.malformed < self.lines:
            return
        self.warned = True
        looks = sniff_format(block.lstrip()[:200])
        hint = (
            f"; they look like --nginx-format {looks}"
            if looks != self.fmt
            else "; is this an nginx access log?"
        )
        log.warning(
            "every one of the %d lines read from %s is malformed for --nginx-format %s%s",
            self.lines,
            self.path,
            self.fmt,
            hint,
        )


async def _stop_reporter(reporter: asyncio.Task[None]) -> None:
    # Cancelled rather than awaited: when the ingest ends on an error, ``stop`` is never
    # set, and waiting for the reporter would hang the process with its input dead.
    reporter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reporter


async def run_tail(
    paths: Iterable[str | Path],
    ingest: EdgeIngest,
    stop: asyncio.Event,
    *,
    interval: float = 0.25,
    from_start: bool = False,
    stats_every: float = 60.0,
) -> None:
    """Follow ``paths`` until ``stop`` is set, feeding every new line to ``ingest``."""
    followers = [FileFollower(p, from_start=from_start) for p in paths]
    checks = {f.path: FormatCheck(f.path, ingest.log_format) for f in followers}
    reporter = asyncio.create_task(_report_every(ingest, stats_every, stop))
    try:
        while True:
            for f in followers:
                block = f.poll()
                while block:
                    before = ingest.lines, ingest.malformed
                    ingest.feed(block)
                    checks[f.path].saw(
                        block, ingest.lines - before[0], ingest.malformed - before[1]
                    )
                    await asyncio.sleep(0)  # a big backlog must not starve /metrics
                    block = f.poll()
            ingest.flush()  # idle: what was read is counted now, not at the next busy moment
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        for f in followers:
            f.close()
        ingest.flush()
        await _stop_reporter(reporter)


async def run_syslog(
    listen: str,
    ingest: EdgeIngest,
    stop: asyncio.Event,
    *,
    flush_every: float = 0.1,
    stats_every: float = 60.0,
    allow: Container[str] | None = None,
) -> None:
    """Receive datagrams on ``listen`` until ``stop`` is set (batched every ``flush_every``).

    Only datagrams from ``allow`` (addresses/networks; default loopback) are read."""
    pending: list[bytes] = []
    bad = 0
    refused: set[str] = set()  # senders already logged (bounded)

    def on_message(message: bytes) -> None:
        pending.append(message + b"\n")
        if len(pending) >= 4096:
            flush()

    def on_bad() -> None:
        nonlocal bad
        bad += 1
        ingest.malformed += 1
        _MALFORMED.inc()

    def on_refused(sender: str) -> None:
        EDGE_SYSLOG_REFUSED.inc()
        if sender not in refused and len(refused) < 100:
            refused.add(sender)
            log.warning("dropping syslog datagrams from %s: not an allowed sender", sender)

    def flush() -> None:
        if pending:
            block = b"".join(pending)
            pending.clear()
            ingest.feed(block)

    transport = await syslog.listen(listen, on_message, on_bad, allow=allow, on_refused=on_refused)
    reporter = asyncio.create_task(_report_every(ingest, stats_every, stop))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), flush_every)
            flush()
            ingest.flush()
    finally:
        transport.close()
        flush()
        ingest.flush()
        await _stop_reporter(reporter)
    if bad:
        log.info("%d datagram(s) without syslog framing were skipped", bad)
