"""Make the shipped deploy files runnable under a temporary prefix, changing only paths.

The renderer itself lives in ``edgeward/nginx_conf.py`` (``make run`` uses it too).
The files in ``deploy/`` name production places (``/etc/nginx/edgeward/``,
``/var/log/nginx/``, ports 80/443, ``/opt/edgeward/venv/bin/``). A test copies them
with those places swapped for local ones by a fixed table, and then checks that no
production path is left: everything else stays exactly as shipped, so the real tool
judges the real directives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from edgeward.nginx_conf import NginxPorts, leftover_production_paths
from edgeward.nginx_conf import render as render_nginx

__all__ = [
    "DEPLOY",
    "LOG_FORMATS",
    "NGINX_DIR",
    "ROOT",
    "NginxPorts",
    "leftover_production_paths",
    "render_nginx",
]

ROOT: Final = Path(__file__).resolve().parents[2]
DEPLOY: Final = ROOT / "deploy"
NGINX_DIR: Final = DEPLOY / "nginx"
LOG_FORMATS: Final = NGINX_DIR / "edgeward-log-formats.conf"
