"""The shipped nginx files (``deploy/nginx/``) made runnable under a local prefix.

They name production places (``/etc/nginx/edgeward/``, ``/var/log/nginx/``, ports 80/443).
:func:`render` swaps those places for local ones by a fixed table and changes nothing
else, so nginx judges the real directives: the tests of ``deploy/`` and ``make run``'s
nginx both run the files as shipped. :func:`leftover_production_paths` proves nothing of
the host is left.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# Absolute paths that must not survive rendering (they would touch the host).
_PRODUCTION: Final = re.compile(r"(?<![\w.])/(etc|var|opt|run|srv)/")


# nginx's temp folders (directive prefix, folder): compiled in under /var/lib/nginx.
_TEMP_PATHS: Final = (
    ("client_body", "body"),
    ("proxy", "proxy"),
    ("fastcgi", "fastcgi"),
    ("uwsgi", "uwsgi"),
    ("scgi", "scgi"),
)


@dataclass(frozen=True)
class NginxPorts:
    http: int
    https: int
    app: int
    syslog: int
    stream: int
    gateway: int


def render(text: str, prefix: Path, ports: NginxPorts) -> str:
    """``text`` with the production places of ``deploy/nginx/*`` replaced under ``prefix``."""
    out = []
    for line in text.splitlines():
        if re.match(r"\s*listen \[::\]:", line):
            continue  # IPv6 may be off in the sandbox; the IPv4 twin stays.
        out.append(line)
    text = "\n".join(out) + "\n"
    table = [
        (r"listen 80;", f"listen 127.0.0.1:{ports.http};"),
        (r"listen 443 ssl", f"listen 127.0.0.1:{ports.https} ssl"),
        (r"listen 192.0.2.10:443;", f"listen 127.0.0.1:{ports.stream};"),
        (r"server 127.0.0.1:8000;", f"server 127.0.0.1:{ports.app};"),
        (r"server 127.0.0.1:8443;", f"server 127.0.0.1:{ports.gateway};"),
        (r"syslog:server=127.0.0.1:5140", f"syslog:server=127.0.0.1:{ports.syslog}"),
        (r"/etc/nginx/edgeward/", f"{prefix}/conf/"),
        (r"/etc/letsencrypt/live/example.org/", f"{prefix}/certs/"),
        (r"/var/log/nginx/", f"{prefix}/logs/"),
        (r"/var/www/letsencrypt", f"{prefix}/www"),
    ]
    for old, new in table:
        text = text.replace(old, new)
    return text


def leftover_production_paths(text: str) -> list[str]:
    """Lines (comments excluded) that still name a production path after rendering."""
    return [
        line
        for line in text.splitlines()
        if not line.lstrip().startswith("#") and _PRODUCTION.search(line.split("#", 1)[0])
    ]


def main_conf(prefix: Path, http_block: str, *, extra_main: str = "") -> str:
    """A whole ``nginx.conf`` that runs unprivileged in the foreground under ``prefix``.

    Pid file, error log (``prefix/logs``) and temp folders (``prefix/tmp``) all live in
    the prefix, so nginx touches nothing of the host's own nginx. As root, the workers
    stay root: the default ``nobody`` could not read files under a user's home.
    """
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_dir = prefix / "tmp"
    temp = "".join(f"    {kind}_temp_path {temp_dir / folder};\n" for kind, folder in _TEMP_PATHS)
    return (
        f"{user}worker_processes 1;\ndaemon off;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/logs/error.log info;\n{extra_main}\n"
        "events { worker_connections 256; }\n"
        f"http {{\n{temp}{http_block}\n}}\n"
    )


def make_prefix(prefix: Path) -> None:
    """The folders :func:`main_conf` names."""
    for sub in ("logs", "tmp", "conf", "certs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
