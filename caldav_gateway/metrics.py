"""The gateway's Prometheus metrics, declared once.

Labels stay bounded: methods outside the WebDAV/CalDAV set count as ``other``, probe paths
are reduced to their family (:func:`caldav_gateway.paths.family_of`) and clients to ``ios``,
``macos`` or ``other`` (:func:`caldav_gateway.clients.client_family`). With
``--workers N`` the process runs in prometheus_client's multiprocess mode; the gauge then
reports the most recent value any worker wrote.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

REQUESTS: Final = Counter(
    "edgeward_caldav_requests_total",
    "Requests answered on the CalDAV port, by method and status code.",
    ["method", "status"],
)
PROBE_NOT_FOUND: Final = Counter(
    "edgeward_caldav_probe_not_found_total",
    "Requests the probe policy answered 404 (never 401), by path family and client family.",
    ["family", "client"],
)
AUTH_FAILURES: Final = Counter(
    "edgeward_caldav_auth_failures_total",
    "Requests carrying credentials that Radicale refused with 401 (wrong user or password).",
)
THROTTLED: Final = Counter(
    "edgeward_caldav_throttled_total",
    "Failed-login throttling: 'delayed' answers and 'refused' (429) requests.",
    ["action"],
)
CERT_NOT_AFTER: Final = Gauge(
    "edgeward_caldav_certificate_not_after_seconds",
    "Expiry (Unix time) of the certificate currently served for new handshakes.",
    multiprocess_mode="mostrecent",
)
CERT_RELOADS: Final = Counter(
    "edgeward_caldav_certificate_reloads_total",
    "Certificate reload attempts after the files changed, by result: loaded, refused (unusable"
    " or mismatched pair), expired (a matching pair outside its validity dates).",
    ["result"],
)
BODIES_REFUSED: Final = Counter(
    "edgeward_caldav_bodies_refused_total",
    "Request bodies refused before Radicale: 'too_large' (413), 'xml' (400: nested too deeply"
    " or with a DTD).",
    ["reason"],
)
CONNECTIONS_OPEN: Final = Gauge(
    "edgeward_caldav_connections_open",
    "Connections open on the CalDAV port (accepted, TLS handshake or not), all workers.",
    multiprocess_mode="livesum",
)
CONNECTIONS_CLOSED: Final = Counter(
    "edgeward_caldav_connections_closed_total",
    "Connections the gateway closed or could not accept: 'per_client_cap' (too many open from"
    " one address or IPv6 /64), 'header_timeout' (no complete request headers in time),"
    " 'accept_error' (accept() failed, e.g. out of file descriptors).",
    ["reason"],
)

# Methods a CalDAV/WebDAV client sends; anything else is counted as "other".
KNOWN_METHODS: Final = frozenset(
    {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "OPTIONS",
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "MKCOL",
        "MKCALENDAR",
        "MOVE",
        "COPY",
        "LOCK",
        "UNLOCK",
        "ACL",
    }
)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


PROFILE_LINKS: Final = Counter(
    "edgeward_caldav_profile_links_total",
    "Answers of the one-time profile links (/.profile/), by result (ok, used, expired, ...).",
    ["result"],
)
