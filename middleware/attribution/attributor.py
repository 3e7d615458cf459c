"""The attribution engine both sensors feed: count every request, resolve corrupted ones.

The request path touches only two methods, both synchronous and cheap:

- :meth:`Attributor.count_request` — the denominator: one prefix-table lookup and one
  counter increment (``edgeward_requests_by_asn_total``); never a network lookup; a
  client seen before whose label can no longer change costs one dict lookup and one
  lock-free increment;
- :meth:`Attributor.submit` — enqueue a :class:`CorruptionEvent` and return; when the queue
  is full the event is dropped and counted (``edgeward_attribution_dropped_total``), so a
  flood of corrupted requests can never slow the app down or grow memory.

Background workers (started by :meth:`start`, by the middleware's lifespan, or lazily by
the first ``submit`` made inside an event loop) take events off the queue and resolve the
client: the prefix table first, then the optional resolver (ipwhois in threads, see
``whois.py``) for addresses the table does not hold. Private, loopback and reserved
addresses are ``unknown`` without any lookup. Each event is counted
(``edgeward_corruption_events_total``) and written as one JSON line, flushed at once, so a
crash loses at most the events still queued. The JSON line and the per-event INFO log line
are rate-limited, and the file rotated by size (``eventlog.py``): a flood is counted in
full but cannot fill the disk.

``submit`` may be called from another thread (the edge sensor's reader): the wake-up is
handed to the loop thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from edgeward.logs import get_logger
from middleware.attribution.eventlog import EventLog
from middleware.attribution.events import CorruptionEvent
from middleware.attribution.labels import AsnLabels
from middleware.attribution.prefix_table import ASNInfo, PrefixTable
from middleware.metrics import (
    ATTRIBUTION_DROPPED,
    ATTRIBUTION_LOOKUP_SECONDS,
    CORRUPTION_EVENTS,
    REQUESTS_BY_ASN,
    ticker,
)

log = get_logger("middleware.attribution")

_CLIENT_CACHE: Final = 4096


class Resolver(Protocol):
    """Something that maps a public address to its AS off the event loop (``WhoisResolver``)."""

    async def resolve(self, ip: str) -> ASNInfo | None: ...


class Attributor:
    """Bounded queue + background resolution + metrics + JSONL events.

    ``table``: the offline prefix table (``None``: every client is ``unknown`` unless the
    resolver knows it). ``resolver``: consulted for events whose client the table does not
    hold. ``events_path``: where event lines are appended (``None``: not written).
    ``queue_size``: events waiting at most. ``top_n``: AS numbers with their own series by
    volume (see ``labels.py``). ``workers``: events resolved at once (a slow resolver
    holds one worker each). ``stop_grace``: seconds :meth:`stop` gives the queue.
    ``event_log``: the caps on event lines (rate, rotation); default :class:`EventLog`'s.
    """

    def __init__(
        self,
        table: PrefixTable | None = None,
        resolver: Resolver | None = None,
        events_path: str | Path | None = None,
        *,
        queue_size: int = 10_000,
        top_n: int = 20,
        event_slots: int | None = None,
        workers: int = 4,
        stop_grace: float = 5.0,
        event_log: EventLog | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.table = table
        self.resolver = resolver
        self.events_path = Path(events_path) if events_path is not None else None
        if event_log is not None and event_log.path != self.events_path:
            raise ValueError("event_log writes another file than events_path")
        self.event_log = event_log if event_log is not None else EventLog(self.events_path)
        self.queue_size = queue_size
        self.labels = AsnLabels(top_n, event_slots=event_slots)
        self.dropped = 0
        self.processed = 0
        self._workers = workers
        self.stop_grace = stop_grace
        self._queue: deque[CorruptionEvent] = deque()
        self._busy = 0
        self._request_children: dict[str, Any] = {}
        self._client_asn: dict[str, int] = {}
        # client → the "+1" of its series, for clients whose label is final (see
        # count_request); cleared whenever a label is admitted.
        self._client_tick: dict[str, Callable[[], object]] = {}
        self._admitted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def __repr__(self) -> str:
        return (
            f"Attributor(table={self.table!r}, resolver={type(self.resolver).__name__}, "
            f"events_path={str(self.events_path) if self.events_path else None!r}, "
            f"queued={len(self._queue)}, dropped={self.dropped})"
        )

    # -- the request path --------------------------------------------------------------------

    def count_request(self, client: str) -> None:
        """Count one request from ``client`` (text address) under its AS label."""
        # Every request of the ASGI sensor comes here: a client whose label is final costs
        # a dict lookup and a lock-free increment (the three calls of the general path
        # and prometheus_client's locked increment cost about 5,000 instructions).
        tick = self._client_tick.get(client)
        if tick is None:
            tick = self._tick_for(client)
        tick()

    def _tick_for(self, client: str) -> Callable[[], object]:
        """The increment for this request of ``client``, remembered while it cannot change."""
        asn = self._client_asn.get(client)
        if asn is None:
            # The same clients come back (keep-alive, page assets): remember a few thousand,
            # forget them all at once when full (bounded, and cheaper than an LRU).
            table = self.table
            asn = table.lookup_asn(client) if table is not None else 0
            if len(self._client_asn) >= _CLIENT_CACHE:
                self._client_asn.clear()
            self._client_asn[client] = asn
        labels = self.labels
        label = labels.request(asn)  # the label policy sees every request it counts
        tick = self._series(label)[1]
        if labels.final(label):
            if labels.admitted != self._admitted:  # an admission changed some client's label
                self._admitted = labels.admitted
                self._client_tick.clear()
            if len(self._client_tick) >= _CLIENT_CACHE:
                self._client_tick.clear()
            self._client_tick[client] = tick
        return tick

    def _series(self, label: str) -> tuple[Any, Callable[[], object]]:
        """The ``requests_by_asn`` child for ``label`` and its "+1"."""
        series = self._request_children.get(label)
        if series is None:
            child = REQUESTS_BY_ASN.labels(label)
            series = self._request_children[label] = (child, ticker(child))
        return series

    def count_asn(self, asn: int, n: int = 1) -> None:
        """Count ``n`` requests from ``asn`` (0: unknown); the edge sensor's fast path."""
        self._series(self.labels.request(asn, n))[0].inc(n)

    def submit(self, event: CorruptionEvent) -> bool:
        """Queue ``event`` for attribution; ``False`` (and counted) if the queue is full."""
        if len(self._queue) >= self.queue_size:
            self.dropped += 1
            ATTRIBUTION_DROPPED.inc()
            return False
        self._queue.append(event)
        loop = self._loop
        if loop is None or not self._running():
            self._start_lazily()
        elif threading.get_ident() == self._loop_thread:
            assert self._wakeup is not None
            self._wakeup.set()
        else:
            wakeup = self._wakeup
            assert wakeup is not None
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wakeup.set)
        return True

    @property
    def pending(self) -> int:
        return len(self._queue)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background workers in the running loop (idempotent)."""
        if self._running() and self._loop is asyncio.get_running_loop():
            return
        self._start_in(asyncio.get_running_loop())

    async def stop(self, grace: float | None = None) -> None:
        """Resolve what is queued (up to ``grace`` seconds, default ``stop_grace``), then stop
        the workers; what is left is logged and dropped."""
        if not self._tasks:
            self._close_output()
            return
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()
        _done, pending = await asyncio.wait(
            self._tasks, timeout=self.stop_grace if grace is None else grace
        )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            log.warning("attribution stopped with %d event(s) unresolved", len(self._queue))
        self._tasks = []
        self._loop = None
        self._close_output()

    async def drain(self, within: float = 10.0) -> None:
        """Wait until every queued event has been recorded (for tests and batch tools)."""
        deadline = time.monotonic() + within
        while self._queue or self._busy:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._queue) + self._busy} event(s) still pending")
            await asyncio.sleep(0.005)

    def _running(self) -> bool:
        return bool(self._tasks) and not all(t.done() for t in self._tasks)

    def _start_lazily(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here: events wait for start()
        self._start_in(loop)

    def _start_in(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._stopping = False
        if self._queue:
            self._wakeup.set()
        self._tasks = [
            loop.create_task(self._work(), name=f"edgeward-attribution-{i}")
            for i in range(self._workers)
        ]

    # -- the background side -----------------------------------------------------------------

    async def _work(self) -> None:
        wakeup = self._wakeup
        assert wakeup is not None
        queue = self._queue
        while True:
            while queue:
                try:
                    event = queue.popleft()
                except IndexError:  # another worker took it
                    break
                self._busy += 1
                try:
                    await self._record(event)
                except Exception:  # one bad event must not stop attribution
                    log.exception("cannot attribute event from %s", event.client)
                finally:
                    self._busy -= 1
            if self._stopping:
                return
            wakeup.clear()
            if not queue:
                await wakeup.wait()

    async def _record(self, event: CorruptionEvent) -> None:
        started = time.perf_counter()
        info, method = await self._attribute(event.client)
        ATTRIBUTION_LOOKUP_SECONDS.labels(method).observe(time.perf_counter() - started)
        label = self.labels.event(info.asn if info else 0)
        if self.labels.admitted != self._admitted:
            # An AS number got its own series: clients remembered under "other" must not
            # keep counting there.
            self._admitted = self.labels.admitted
            self._client_tick.clear()
        CORRUPTION_EVENTS.labels(event.kind, event.source, label).inc()
        self.processed += 1
        self.event_log.record(
            self._row(event, info),
            "corrupted request: %s in %s from %s (AS%s %s)",
            event.kind,
            event.detail or event.source,
            event.client or "?",
            info.asn if info else "?",
            info.name if info else "unknown",
        )

    async def _attribute(self, client: str) -> tuple[ASNInfo | None, str]:
        try:
            address = ipaddress.ip_address(client.split("%", 1)[0])
        except ValueError:
            return None, "none"
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            return None, "none"  # private, loopback, reserved: nobody can say more
        text = str(address)
        if self.table is not None:
            info = self.table.lookup(text)
            if info is not None:
                return info, "table"
        if self.resolver is not None:
            return await self.resolver.resolve(text), "whois"
        return None, "none"

    @staticmethod
    def _row(event: CorruptionEvent, info: ASNInfo | None) -> dict[str, Any]:
        # A sensor's clock value that is not a time (a bug, or a parser let through a
        # non-finite number) must not reach the file: the time of recording stands in.
        when = event.time if math.isfinite(event.time) else time.time()
        return {
            "time": when,
            "source": event.source,
            "kind": event.kind,
            "client": event.client,
            "asn": info.asn if info else None,
            "as_name": info.name if info else "",
            "prefix": info.prefix if info else "",
            "evidence_hex": event.evidence_hex,
            "offset": event.offset,
            "detail": event.detail,
        }

    def _close_output(self) -> None:
        self.event_log.close()
