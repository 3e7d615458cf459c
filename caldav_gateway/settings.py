"""``gateway.toml``: the gateway's settings (each also a ``serve`` flag, which wins).

Example::

    listen = "0.0.0.0:8443"
    cert = "/etc/letsencrypt/live/cal.example.org/fullchain.pem"
    key = "/etc/letsencrypt/live/cal.example.org/privkey.pem"
    htpasswd = "/etc/caldav-gateway/users"
    collections = "/var/lib/caldav-gateway/collections"
    metrics_listen = "127.0.0.1:9465"
    policy = "principals"        # or "denylist"
    workers = 2

    [throttle]
    limit = 10
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from caldav_gateway.throttle import ThrottleSettings
from edgeward.config import (
    listen_address,
    metrics_address,
    positive_at_most,
    setting,
    whole_between,
)

DAY = 86400.0


def _usernames(value: list[str]) -> None:
    for name in value:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not a username (no '/', not empty, not '.' or '..')")


@dataclass(frozen=True)
class GatewaySettings:
    listen: str = setting(
        "0.0.0.0:8443", help="HOST:PORT of the dedicated CalDAV port", check=listen_address
    )
    cert: Path | None = setting(None, help="PEM certificate (with its chain) for every client")
    key: Path | None = setting(None, help="PEM private key of the certificate")
    htpasswd: Path | None = setting(
        None, help="htpasswd file of the users (bcrypt or SHA-512; re-read when it changes)"
    )
    collections: Path | None = setting(None, help="folder where Radicale stores the collections")
    metrics_listen: str = setting(
        "127.0.0.1:9465",
        help="HOST:PORT of /metrics (never on the CalDAV port); 'off' to disable",
        check=metrics_address,
    )
    insecure_http: bool = setting(
        False, help="serve plain HTTP (local experiments only: Apple clients refuse Basic auth)"
    )
    web: bool = setting(False, help="also serve Radicale's web interface under /.web")
    workers: int = setting(
        1, help="processes serving the same collections", check=whole_between(1, 256)
    )
    policy: Literal["principals", "denylist"] = setting(
        "principals",
        help="'principals': 404 except / and real users' paths; 'denylist': 404 for known probes",
    )
    principals: list[str] = setting(
        default_factory=list,
        help="explicit usernames whose paths are served (default: the htpasswd file's users)",
        check=_usernames,
    )
    tls_min_version: Literal["1.2", "1.3"] = setting("1.2", help="oldest TLS version accepted")
    reload_interval: float = setting(
        2.0,
        help="seconds between checks of the certificate files",
        check=positive_at_most(DAY),
    )
    keep_alive: float = setting(
        30.0,
        help="seconds an idle keep-alive connection stays open",
        check=positive_at_most(DAY),
    )
    handshake_timeout: float = setting(
        10.0,
        help="seconds a client has to complete the TLS handshake",
        check=positive_at_most(3600.0),
    )
    header_timeout: float = setting(
        10.0,
        help="seconds a client has to send a request's headers, from connecting or its first byte",
        check=positive_at_most(3600.0),
    )
    max_connections_per_client: int = setting(
        100,
        help="connections open at once per client address (IPv6: per /64), per worker",
        check=whole_between(1, 1_000_000),
    )
    max_body: int = setting(
        16 * 1024 * 1024,
        help="largest request body in bytes (413 above it, counted as it streams)",
        check=whole_between(0, 1 << 40),
    )
    max_xml_body: int = setting(
        4 * 1024 * 1024,
        help="largest XML request body in bytes (PROPFIND, REPORT...; 413 above it)",
        check=whole_between(0, 1 << 40),
    )
    max_xml_depth: int = setting(
        64,
        help="deepest XML nesting of a request body (400 above it)",
        check=whole_between(1, 10_000),
    )
    realm: str = setting("CalDAV", help="the Basic realm shown by clients")
    throttle: ThrottleSettings = setting(
        default_factory=ThrottleSettings, help="failed-login throttling (a [throttle] table)"
    )

    def __post_init__(self) -> None:
        if self.htpasswd is None:
            raise ValueError("htpasswd is required (the file of users Radicale checks)")
        if self.collections is None:
            raise ValueError("collections is required (the folder of the calendars)")
        if self.metrics_listen == self.listen:
            raise ValueError(
                "metrics_listen must differ from listen (the CalDAV port serves nothing else)"
            )
        if not self.insecure_http and (self.cert is None or self.key is None):
            raise ValueError("cert and key are required (or insecure_http for local experiments)")
