"""``--workers N``: N spawned processes accepting on one socket, ``/metrics`` in the parent.

The parent binds the socket once and starts N *spawned* (not forked) workers that accept on
it; the kernel spreads the connections. Spawned because prometheus_client picks its
multiprocess value class at import time: the workers import it only after
``PROMETHEUS_MULTIPROC_DIR`` is set. The parent serves ``/metrics`` from the multiprocess
files. Each worker watches the certificate files itself; Radicale's storage locks (a file
lock on the collections) make workers sharing one folder safe.

A worker that dies is restarted after a back-off (1 s, doubling per quick death, at most
30 s; reset once it has served for a minute), whatever killed it: one request that crashes a
worker (a SIGSEGV in a C extension) must not take the service down for everyone, and the
other workers keep serving meanwhile. Only when no worker has *ever* come up serving does
the gateway stop (exit 1): that is a set-up problem that restarting does not fix.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from prometheus_client import multiprocess

from caldav_gateway.settings import GatewaySettings
from caldav_gateway.worker import worker_main
from edgeward.logs import get_logger
from edgeward.metrics import serve_metrics

log = get_logger("caldav_gateway.supervisor")

# Restart back-off: the first delay, its ceiling, and how long a worker must have served
# for its next death to count as a first one again.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_SECONDS = 60.0


def backoff(quick_deaths: int) -> float:
    """Seconds before restarting a worker that died ``quick_deaths`` times in a row."""
    return min(BACKOFF_FIRST * 2.0 ** min(max(quick_deaths - 1, 0), 30), BACKOFF_MAX)


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[Path]:
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


async def supervise(
    settings: GatewaySettings,
    sock: socket.socket,
    mpdir: Path,
    log_level: str,
    log_format: str,
    metrics_sock: socket.socket | None = None,
) -> int:
    spawn = multiprocessing.get_context("spawn")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    readiness = [spawn.Event() for _ in range(settings.workers)]

    def start_worker(index: int) -> BaseProcess:
        proc = spawn.Process(
            target=worker_main,
            args=(settings, sock, log_level, log_format, readiness[index]),
            name=f"caldav-gateway-worker-{index}",
            daemon=False,
        )
        proc.start()
        log.info("worker %d started (pid %s)", index, proc.pid)
        return proc

    workers: list[BaseProcess | None] = [start_worker(i) for i in range(settings.workers)]
    started = [time.monotonic()] * len(workers)
    quick_deaths = [0] * len(workers)
    restart_at = [0.0] * len(workers)
    ever_served = False
    announced = [False] * len(workers)
    metrics_server = metrics_task = None
    code = 0
    try:
        if settings.metrics_listen not in ("", "off"):
            metrics_server, metrics_task = await serve_metrics(
                settings.metrics_listen, sock=metrics_sock
            )
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
            if stop.is_set():
                break
            now = time.monotonic()
            for i, proc in enumerate(workers):
                if proc is None:
                    if now >= restart_at[i]:
                        readiness[i].clear()
                        workers[i], started[i], announced[i] = start_worker(i), now, False
                    continue
                if not announced[i] and readiness[i].is_set():
                    log.info("worker %d (pid %s) serving", i, proc.pid)
                    announced[i] = ever_served = True
                if proc.exitcode is None:
                    continue
                if proc.pid is not None:
                    multiprocess.mark_process_dead(proc.pid, str(mpdir))  # type: ignore[no-untyped-call]
                if not ever_served:
                    # No worker ever came up: a set-up problem a restart will not fix.
                    log.error(
                        "worker %d (pid %s) exited with %s before any worker served; stopping",
                        *(i, proc.pid, describe_exit(proc.exitcode)),
                    )
                    code = 1
                    stop.set()
                    break
                quick_deaths[i] = 1 if now - started[i] >= STABLE_SECONDS else quick_deaths[i] + 1
                delay = backoff(quick_deaths[i])
                log.error(
                    "worker %d (pid %s) exited with %s; restarting it in %.0fs",
                    *(i, proc.pid, describe_exit(proc.exitcode), delay),
                )
                workers[i], restart_at[i] = None, now + delay
    finally:
        running = [p for p in workers if p is not None]
        for proc in running:
            if proc.exitcode is None and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in running:
            await asyncio.to_thread(proc.join, 15)
            if proc.exitcode is None:
                proc.kill()
                code = 1
        if metrics_server is not None and metrics_task is not None:
            metrics_server.should_exit = True
            await metrics_task
    return code
