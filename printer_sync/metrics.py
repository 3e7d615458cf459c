"""printer_sync's Prometheus metrics, declared once.

Labels stay bounded: ``printer`` is a configured name, ``result`` is an outcome
(``verified``, ``skipped_unchanged``, ``dry_run``) or an :class:`~printer_sync.errors.ErrorKind`.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

PUSH_TOTAL: Final = Counter(
    "edgeward_printer_push_total",
    "Push attempts per printer by result: an outcome, or the error kind of a failure.",
    ["printer", "result"],
)
PUSH_DURATION: Final = Histogram(
    "edgeward_printer_push_duration_seconds",
    "Wall time of pushes that sent something to the printer (reboot wait included).",
    ["printer"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 180, 300, 600),
)
PUSH_LAST_SUCCESS: Final = Gauge(
    "edgeward_printer_push_last_success_timestamp_seconds",
    "Unix time of the last push that ended verified or found the printer up to date.",
    ["printer"],
)
PUSH_DEADLINE: Final = Gauge(
    "edgeward_printer_push_deadline_timestamp_seconds",
    "Unix time by which the push in progress must end (push_timeout); 0 when none runs. "
    "A value in the past means a push outlived its deadline: printer-sync is stuck.",
    ["printer"],
)

# --- daemon ---
# Set by `printer-sync watch` (printer_sync/watch.py) after every check of a printer.
SERVED_NOT_AFTER: Final = Gauge(
    "edgeward_printer_served_not_after_timestamp_seconds",
    "Unix time at which the certificate the printer served at the last check expires "
    "(kept while the printer is unreachable, so expiry alerts still fire).",
    ["printer"],
)
REACHABLE: Final = Gauge(
    "edgeward_printer_reachable",
    "1 if the printer answered the last TLS handshake, else 0.",
    ["printer"],
)
IN_SYNC: Final = Gauge(
    "edgeward_printer_in_sync",
    "1 if the printer served the local certificate at the last check, else 0.",
    ["printer"],
)
LAST_CHECK: Final = Gauge(
    "edgeward_printer_last_check_timestamp_seconds",
    "Unix time of the daemon's last check of the printer (reachable or not).",
    ["printer"],
)
