"""Assemble the gateway and run it: one process, or N workers sharing one socket.

The ASGI stack, outermost first: :class:`~caldav_gateway.instrument.RequestMetrics` →
:class:`~caldav_gateway.policy.ProbePolicy` → :class:`~caldav_gateway.throttle.LoginThrottle`
→ Radicale. The policy sits outside the throttle so that probe paths get their 404 even
from a throttled address (never a 401, never a 429 on a path the client has no business
on).

``--workers N``: the parent binds the socket once, starts N *spawned* worker processes
that accept on it (the kernel spreads connections), and serves ``/metrics`` itself from
prometheus_client's multiprocess files. Spawned, not forked, because prometheus_client
chooses its multiprocess value class at import time: the workers import it only after
``PROMETHEUS_MULTIPROC_DIR`` is set. Each worker watches the certificate files itself.
Radicale's storage locks (a file lock per collection folder) make concurrent workers safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

import uvicorn
from prometheus_client import multiprocess
from starlette.types import ASGIApp

from caldav_gateway import paths
from caldav_gateway.instrument import RequestMetrics
from caldav_gateway.policy import ProbePolicy
from caldav_gateway.principals import (
    HtpasswdPrincipals,
    Principals,
    StaticPrincipals,
    read_htpasswd,
)
from caldav_gateway.radicale_app import radicale_asgi
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.throttle import LoginThrottle
from caldav_gateway.tls import CertificateReloader, load_pair
from edgeward.logs import get_logger, setup_logging
from edgeward.metrics import serve_metrics
from edgeward.netaddr import format_hostport, parse_hostport

log = get_logger("caldav_gateway.serve")

# A worker that dies this soon after starting is not restarted: the gateway stops instead.
CRASH_LOOP_SECONDS = 10

INSECURE_WARNING = (
    "serving plain HTTP (--insecure-http): recent iOS and macOS refuse to send Basic "
    "credentials over an insecure connection, so Apple devices will not log in; "
    "use this for local experiments only"
)


def _paths(settings: GatewaySettings) -> tuple[Path, Path]:
    assert settings.htpasswd is not None and settings.collections is not None  # __post_init__
    return settings.htpasswd, settings.collections


def principals_of(settings: GatewaySettings) -> Principals:
    htpasswd, _ = _paths(settings)
    if settings.principals:
        return StaticPrincipals(settings.principals)
    return HtpasswdPrincipals(htpasswd)


def check_startup(settings: GatewaySettings) -> list[str]:
    """Validate files (``ValueError`` on a fatal problem) and return the warnings to log."""
    htpasswd, collections = _paths(settings)
    users = read_htpasswd(htpasswd)
    names = set(settings.principals) if settings.principals else set(users.users)
    warnings: list[str] = []
    for name in paths.colliding_names(names):
        warnings.append(
            f"username {name!r} collides with the probe family /{name}/: "
            + (
                "Apple probes of that path will reach Radicale and may get 401"
                if settings.policy == "principals"
                else "the denylist policy answers 404 there, so this user cannot be served"
            )
        )
    if users.plain:
        warnings.append(
            f"{len(users.plain)} htpasswd entr{'y' if len(users.plain) == 1 else 'ies'} "
            "stored without a hash (plain text is for tests): use bcrypt (htpasswd -B)"
        )
    if not users.users:
        warnings.append(f"{htpasswd}: no users yet; every path but / answers 404")
    if settings.insecure_http:
        warnings.append(INSECURE_WARNING)
    else:
        assert settings.cert is not None and settings.key is not None
        load_pair(settings.cert, settings.key, settings.tls_min_version)  # CertificateError
    collections.mkdir(parents=True, exist_ok=True)
    return warnings


def build_app(settings: GatewaySettings, *, radicale_log_level: int = logging.WARNING) -> ASGIApp:
    htpasswd, collections = _paths(settings)
    app: ASGIApp = radicale_asgi(
        htpasswd=htpasswd,
        collections=collections,
        web=settings.web,
        realm=settings.realm,
        log_level=radicale_log_level,
    )
    app = LoginThrottle(app, settings=settings.throttle)
    app = ProbePolicy(
        app, principals=principals_of(settings), mode=settings.policy, web=settings.web
    )
    return RequestMetrics(app)


def bind(listen: str) -> socket.socket:
    host, port = parse_hostport(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket's proto is IPPROTO_TCP (socket.create_server leaves 0), and without it every
    # two-write answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_config(
    settings: GatewaySettings, app: ASGIApp, reloader: CertificateReloader | None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,  # keep edgeward's logging set-up
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # the port faces clients directly: never trust X-Forwarded-For
        server_header=False,
        timeout_keep_alive=max(1, round(settings.keep_alive)),
        ssl_context_factory=(lambda _cfg, _default: reloader.context) if reloader else None,
    )


async def serve_worker(
    settings: GatewaySettings, sock: socket.socket, *, with_metrics: bool, radicale_log_level: int
) -> None:
    """Serve on ``sock`` until SIGINT/SIGTERM (uvicorn's handlers, main thread)."""
    reloader = None
    if not settings.insecure_http:
        assert settings.cert is not None and settings.key is not None
        reloader = CertificateReloader(
            settings.cert, settings.key, min_version=settings.tls_min_version
        )
    app = build_app(settings, radicale_log_level=radicale_log_level)
    server = uvicorn.Server(uvicorn_config(settings, app, reloader))
    watcher = None
    metrics_server = metrics_task = None
    if reloader is not None:
        watcher = asyncio.create_task(reloader.watch(settings.reload_interval))
    if with_metrics and settings.metrics_listen not in ("", "off"):
        metrics_server, metrics_task = await serve_metrics(settings.metrics_listen)
    try:
        await server.serve(sockets=[sock])
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if metrics_server is not None and metrics_task is not None:
            metrics_server.should_exit = True
            await metrics_task


def worker_main(
    settings: GatewaySettings, sock: socket.socket, log_level: str, log_format: str
) -> None:
    """Entry point of a spawned worker process."""
    setup_logging(log_level, "json" if log_format == "json" else "text")
    level = logging.DEBUG if log_level == "debug" else logging.WARNING
    asyncio.run(serve_worker(settings, sock, with_metrics=False, radicale_log_level=level))


def describe(settings: GatewaySettings, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    scheme = "http" if settings.insecure_http else "https"
    where = f"{scheme}://{format_hostport(host, port)}/"
    metrics = (
        "off"
        if settings.metrics_listen in ("", "off")
        else f"http://{settings.metrics_listen}/metrics"
    )
    return (
        f"serving CalDAV on {where} ({settings.workers} worker(s), policy {settings.policy}); "
        f"metrics {metrics}"
    )


def serve(settings: GatewaySettings, *, log_level: str = "info", log_format: str = "text") -> int:
    """Run the gateway until interrupted; returns the exit code."""
    for warning in check_startup(settings):
        log.warning(warning)
    sock = bind(settings.listen)
    log.info(describe(settings, sock))
    if settings.workers == 1:
        level = logging.DEBUG if log_level == "debug" else logging.WARNING
        asyncio.run(serve_worker(settings, sock, with_metrics=True, radicale_log_level=level))
        return 0
    with _multiprocess_dir() as mpdir:
        return asyncio.run(_supervise(settings, sock, mpdir, log_level, log_format))


@contextlib.contextmanager
def _multiprocess_dir() -> Iterator[Path]:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        # prometheus_client: the folder must be emptied between runs.
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield Path(given)
        return
    created = Path(tempfile.mkdtemp(prefix="caldav-gateway-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(created)
    try:
        yield created
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(created, ignore_errors=True)


async def _supervise(
    settings: GatewaySettings, sock: socket.socket, mpdir: Path, log_level: str, log_format: str
) -> int:
    spawn = multiprocessing.get_context("spawn")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def start_worker(index: int) -> BaseProcess:
        proc = spawn.Process(
            target=worker_main,
            args=(settings, sock, log_level, log_format),
            name=f"caldav-gateway-worker-{index}",
            daemon=False,
        )
        proc.start()
        log.info("worker %d started (pid %s)", index, proc.pid)
        return proc

    workers = [start_worker(i) for i in range(settings.workers)]
    started = [time.monotonic()] * len(workers)
    metrics_server = metrics_task = None
    code = 0
    try:
        if settings.metrics_listen not in ("", "off"):
            metrics_server, metrics_task = await serve_metrics(settings.metrics_listen)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            for i, proc in enumerate(workers):
                if proc.exitcode is None or stop.is_set():
                    continue
                if proc.pid is not None:
                    multiprocess.mark_process_dead(proc.pid, str(mpdir))  # type: ignore[no-untyped-call]
                if time.monotonic() - started[i] < CRASH_LOOP_SECONDS:
                    # Dying right after start is a set-up problem a restart will not fix.
                    log.error(
                        "worker %d (pid %s) exited with %s within %ds of starting; stopping",
                        *(i, proc.pid, proc.exitcode, CRASH_LOOP_SECONDS),
                    )
                    code = 1
                    stop.set()
                    break
                log.error(
                    "worker %d (pid %s) exited with %s; restarting it", i, proc.pid, proc.exitcode
                )
                workers[i], started[i] = start_worker(i), time.monotonic()
    finally:
        for proc in workers:
            if proc.exitcode is None and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in workers:
            await asyncio.to_thread(proc.join, 15)
            if proc.exitcode is None:
                proc.kill()
                code = 1
        if metrics_server is not None and metrics_task is not None:
            metrics_server.should_exit = True
            await metrics_task
    return code
