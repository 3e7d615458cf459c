"""``--workers N``: N spawned processes accepting on one socket, ``/metrics`` in the parent.

The parent binds the socket once and starts N *spawned* (not forked) workers that accept on
it; the kernel spreads the connections. Spawned because prometheus_client picks its
multiprocess value class at import time: the workers import it only after
``PROMETHEUS_MULTIPROC_DIR`` is set. The parent serves ``/metrics`` from the multiprocess
files. Each worker watches the certificate files itself; Radicale's storage locks (a file
lock on the collections) make workers sharing one folder safe. A worker that dies is
restarted, unless it died right after starting: then the gateway stops (exit 1), because a
set-up problem does not go away by restarting.
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

# A worker that dies this soon after starting is not restarted: the gateway stops instead.
CRASH_LOOP_SECONDS = 10


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
            metrics_server, metrics_task = await serve_metrics(
                settings.metrics_listen, sock=metrics_sock
            )
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
