"""One serving process: uvicorn on a pre-bound socket, the certificate watcher, Radicale.

Used in-process with one worker (which then also serves ``/metrics``) and as the entry
point of each spawned worker with ``--workers N``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from multiprocessing.synchronize import Event

import uvicorn
from starlette.types import ASGIApp

from caldav_gateway.app import build_app
from caldav_gateway.connections import (
    CappedListener,
    ClientConnections,
    RateLimitedLoopErrors,
    header_timeout_protocol,
    limit_handshakes,
)
from caldav_gateway.radicale_app import radicale_level_for
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.tls import CertificateReloader
from edgeward.lifecycle import OFF, daemon
from edgeward.logs import setup_logging
from edgeward.serving import EmbeddedServer


def uvicorn_config(
    settings: GatewaySettings, app: ASGIApp, reloader: CertificateReloader | None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=header_timeout_protocol(settings.header_timeout),
        log_config=None,  # keep edgeward's logging set-up
        access_log=False,
        lifespan="off",
        ws="none",  # CalDAV has no WebSockets: an Upgrade request is plain HTTP to the policy
        proxy_headers=False,  # the port faces clients directly: never trust X-Forwarded-For
        server_header=False,
        timeout_keep_alive=max(1, round(settings.keep_alive)),
        ssl_context_factory=(lambda _cfg, _default: reloader.context) if reloader else None,
    )


async def serve_worker(
    settings: GatewaySettings,
    sock: socket.socket,
    *,
    with_metrics: bool,
    radicale_log_level: int,
    metrics_sock: socket.socket | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve on ``sock`` until SIGINT/SIGTERM (:func:`edgeward.lifecycle.daemon`).

    ``ready`` is called once uvicorn accepts connections (the supervisor's sign that the
    set-up works).
    """
    reloader = None
    if not settings.insecure_http:
        assert settings.cert is not None and settings.key is not None
        reloader = CertificateReloader(
            settings.cert, settings.key, min_version=settings.tls_min_version
        )
    app = build_app(settings, radicale_log_level=radicale_log_level)
    server = EmbeddedServer(uvicorn_config(settings, app, reloader))
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(RateLimitedLoopErrors())
    limit_handshakes(loop, settings.handshake_timeout)
    sock = CappedListener.wrap(sock, ClientConnections(settings.max_connections_per_client))
    metrics_listen = settings.metrics_listen if with_metrics else OFF
    async with daemon(metrics_listen, metrics_sock=metrics_sock) as life:
        if reloader is not None:
            watcher = asyncio.create_task(reloader.watch(settings.reload_interval))

            async def stop_watching() -> None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

            life.on_exit(stop_watching)
        await life.serve(server, "CalDAV", sock, ready=ready)


def worker_main(
    settings: GatewaySettings,
    sock: socket.socket,
    log_level: str,
    log_format: str,
    ready: Event | None = None,
) -> None:
    """Entry point of a spawned worker process; sets ``ready`` once it serves."""
    setup_logging(log_level, "json" if log_format == "json" else "text")
    level = radicale_level_for(log_level)
    asyncio.run(
        serve_worker(
            settings,
            sock,
            with_metrics=False,
            radicale_log_level=level,
            ready=ready.set if ready is not None else None,
        )
    )
