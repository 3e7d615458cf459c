"""Prometheus exposition shared by the tools.

Metric names start with ``edgeward_`` and are declared once, at module level, next to
the code that updates them (``middleware/metrics.py``, ``caldav_gateway/metrics.py``,
``printer_sync/metrics.py``). This module only exposes them:

- :func:`metrics_app` — the ASGI app for ``/metrics``; in multiprocess mode (the
  ``PROMETHEUS_MULTIPROC_DIR`` environment variable is set, e.g. ``caldav-gateway
  --workers 2``) it aggregates every worker's files, as prometheus_client documents.
- :func:`serve_metrics` — a small uvicorn server on its own address for daemons whose
  main port must serve nothing else (the CalDAV port, the log sensor, the printer sidecar).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Final

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app, multiprocess
from prometheus_client.registry import REGISTRY
from starlette.types import ASGIApp

from edgeward.netaddr import parse_hostport
from edgeward.serving import EmbeddedServer, bind_tcp, start

PREFIX: Final = "edgeward_"


def metrics_app(registry: CollectorRegistry | None = None) -> ASGIApp:
    """The ``/metrics`` ASGI app (multiprocess-aware)."""
    if registry is None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return make_asgi_app(registry or REGISTRY)


def metrics_server(listen: str, registry: CollectorRegistry | None = None) -> EmbeddedServer:
    """A uvicorn server answering ``/metrics`` on ``listen`` (``HOST:PORT``)."""
    host, port = parse_hostport(listen)
    config = uvicorn.Config(
        metrics_app(registry),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return EmbeddedServer(config)


async def serve_metrics(
    listen: str, registry: CollectorRegistry | None = None, *, sock: socket.socket | None = None
) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start serving ``/metrics`` in the current event loop; returns once it listens.

    Stop with ``server.should_exit = True`` and ``await task``. Raises ``OSError`` naming
    the address if it cannot listen there (taken, not local). ``sock``: already bound to
    ``listen`` by a program that reports "serving" only once every socket is bound.
    """
    sock = sock if sock is not None else bind_tcp(listen)
    server = metrics_server(listen, registry)
    try:
        return server, await start(server, f"metrics on {listen}", sock)
    except BaseException:
        sock.close()
        raise
