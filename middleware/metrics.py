"""Every Prometheus metric of the middleware, declared once (``edgeward_`` prefix).

Each section belongs to one feature; import the metric from here, never redeclare it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter as _Counter
from prometheus_client import Gauge as _Gauge
from prometheus_client import Histogram as _Histogram
from prometheus_client import values as _values
from prometheus_client.samples import Exemplar


class _TickValue:
    """A counter child's value that counts by one without a lock.

    prometheus_client's own value takes a mutex on every increment; with the three Python
    calls around it, ``child.inc()`` cost about 3,500 instructions, as much as a third of
    a middleware's budget per request. Here an increment by one is ``tick()``: the
    ``__next__`` of an :func:`itertools.count`, one C call that the GIL makes atomic (so
    no increment is ever lost between threads, which ``x += 1`` cannot promise). Reading
    takes one more ``next`` and subtracts the reads made so far; the lock serialises the
    rare reads, increments by other amounts (the edge sensor's batches), ``set`` and
    exemplars. It answers the same interface as ``prometheus_client.values.MutexValue``,
    so the counter's samples, exposition and ``_created`` stay prometheus_client's own.
    """

    __slots__ = ("_exemplar", "_lock", "_other", "_reads", "_ticks", "tick")

    def __init__(self) -> None:
        self._ticks = itertools.count()
        self.tick: Callable[[], int] = self._ticks.__next__
        self._reads = 0  # calls to next() that were reads, not ticks
        self._other = 0.0  # everything not counted by tick(): other amounts, set()
        self._lock = threading.Lock()
        self._exemplar: Exemplar | None = None

    def _ticked(self) -> int:
        # The caller holds the lock: reads are serialised, ticks may run concurrently.
        reads = self._reads
        self._reads = reads + 1
        return next(self._ticks) - reads

    def inc(self, amount: float) -> None:
        if amount == 1:
            self.tick()
            return
        with self._lock:
            self._other += amount

    def set(self, value: float, timestamp: float | None = None) -> None:
        with self._lock:
            self._other = value - self._ticked()

    def get(self) -> float:
        with self._lock:
            return self._ticked() + self._other

    def set_exemplar(self, exemplar: Exemplar) -> None:
        with self._lock:
            self._exemplar = exemplar

    def get_exemplar(self) -> Exemplar | None:
        with self._lock:
            return self._exemplar


class TickCounter(_Counter):
    """A prometheus_client ``Counter`` whose children also offer a lock-free ``+1``
    (:func:`ticker`). Same API, samples and exposition; in multiprocess mode
    (``PROMETHEUS_MULTIPROC_DIR``) the values are prometheus_client's own, in its files."""

    def _metric_init(self) -> None:
        if _values.ValueClass is not _values.MutexValue:  # multiprocess: shared files
            super()._metric_init()
            return
        self._value: Any = _TickValue()
        self._created = time.time()


def ticker(child: _Counter) -> Callable[[], object]:
    """A callable that adds one to ``child`` (a :class:`TickCounter`'s labelled child or a
    label-less one): the lock-free ``tick`` when there is one, else ``child.inc``."""
    value = getattr(child, "_value", None)
    return value.tick if isinstance(value, _TickValue) else child.inc


# --- corruption and attribution ---
# Label values of ``asn`` are bounded by ``middleware.attribution.labels.AsnLabels``: the
# top-N AS numbers by request volume plus those with corruption events, then ``other``;
# ``unknown`` when no table or resolver knows the client (private addresses included).

CORRUPTION_EVENTS = _Counter(
    "edgeward_corruption_events_total",
    "Corrupted requests seen by a sensor (source asgi|edge), by kind and client AS number.",
    ["kind", "source", "asn"],
)
# Counted on every request by the ASGI sensor: a TickCounter (see above).
REQUESTS_BY_ASN = TickCounter(
    "edgeward_requests_by_asn_total",
    "All requests by client AS number, from the prefix table: the denominator of the rates.",
    ["asn"],
)
ATTRIBUTION_DROPPED = _Counter(
    "edgeward_attribution_dropped_total",
    "Corruption events dropped because the attribution queue was full.",
)
ATTRIBUTION_LOOKUP_SECONDS = _Histogram(
    "edgeward_attribution_lookup_seconds",
    "Time to attribute one event's client to an AS, by method (table, whois, cache, none).",
    ["method"],
    buckets=(1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
WHOIS_LOOKUPS = _Counter(
    "edgeward_attribution_whois_lookups_total",
    "ipwhois lookups by outcome (ok, not_found, error, timeout, budget, cached, negative).",
    ["outcome"],
)

# --- signed URLs ---
# ``result`` is one of ``middleware.signed.outcome.RESULTS`` (seven values, all exported
# at zero from start-up so a rate() never starts from a missing series).
# Counted on every protected request: a TickCounter (see above).
SIGNED_URL_CHECKS = TickCounter(
    "edgeward_signed_url_checks_total",
    "Signed-URL checks on protected paths, by result (valid, missing, malformed, "
    "bad_signature, unknown_key, expired, corrupted).",
    ["result"],
)

# --- edge sensor ---
# dpi-watch's own health: lines read from nginx's log (file or syslog) by ``result``
# (``parsed``, ``malformed``: truncated, cut by syslog, another format — counted, skipped).
EDGE_LOG_LINES = _Counter(
    "edgeward_edge_log_lines_total",
    "nginx access-log lines read by dpi-watch, by result (parsed, malformed).",
    ["result"],
)
EDGE_SYSLOG_REFUSED = _Counter(
    "edgeward_edge_syslog_refused_total",
    "Syslog datagrams dropped by dpi-watch because their sender is not an allowed one.",
)
# Computed at scrape time: seconds since dpi-watch last read a log line (since start-up
# before the first one). A stalled ingest (nginx logging elsewhere, a dead socket) grows it.
EDGE_LAST_LINE_AGE = _Gauge(
    "edgeward_edge_last_line_age_seconds",
    "Seconds since dpi-watch last read an nginx log line (since start-up before the first).",
)
ATTRIBUTION_SUPPRESSED = _Counter(
    "edgeward_attribution_suppressed_total",
    "Corruption events counted but not written to the events file and log (rate limit).",
)
