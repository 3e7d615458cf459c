"""Every Prometheus metric of the middleware, declared once (``edgeward_`` prefix).

Each section belongs to one feature; import the metric from here, never redeclare it.
"""

from __future__ import annotations

# --- corruption and attribution ---
# Label values of ``asn`` are bounded by ``middleware.attribution.labels.AsnLabels``: the
# top-N AS numbers by request volume plus those with corruption events, then ``other``;
# ``unknown`` when no table or resolver knows the client (private addresses included).
from prometheus_client import Counter as _Counter
from prometheus_client import Gauge as _Gauge
from prometheus_client import Histogram as _Histogram

CORRUPTION_EVENTS = _Counter(
    "edgeward_corruption_events_total",
    "Corrupted requests seen by a sensor (source asgi|edge), by kind and client AS number.",
    ["kind", "source", "asn"],
)
REQUESTS_BY_ASN = _Counter(
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
SIGNED_URL_CHECKS = _Counter(
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
