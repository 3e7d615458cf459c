"""Make the shipped deploy files runnable under a temporary prefix, changing only paths.

The files in ``deploy/`` name production places (``/etc/nginx/edgeward/``,
``/var/log/nginx/``, ports 80/443, ``/opt/edgeward/venv/bin/``). A test copies them
with those places swapped for local ones by a fixed table, and then checks that no
production path is left: everything else stays exactly as shipped, so the real tool
judges the real directives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
DEPLOY: Final = ROOT / "deploy"
NGINX_DIR: Final = DEPLOY / "nginx"
LOG_FORMATS: Final = NGINX_DIR / "edgeward-log-formats.conf"

# Absolute paths that must not survive rendering (they would touch the host).
_PRODUCTION: Final = re.compile(r"(?<![\w.])/(etc|var|opt|run|srv)/")


@dataclass(frozen=True)
class NginxPorts:
    http: int
    https: int
    app: int
    syslog: int
    stream: int
    gateway: int


def render_nginx(text: str, prefix: Path, ports: NginxPorts) -> str:
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
