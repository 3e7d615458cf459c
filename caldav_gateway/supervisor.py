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
from edgeward.lifecycle import daemon
from edgeward.logs import get_logger

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


class _Pool:
    """The spawned workers, each restarted with a growing delay when it dies."""

    def __init__(self, settings: GatewaySettings, sock: socket.socket, mpdir: Path,
                 log_level: str, log_format: str) -> None:  # fmt: skip
        self._spawn = multiprocessing.get_context("spawn")
        self._args = (settings, sock, log_level, log_format)
        self._mpdir = mpdir
        count = settings.workers
        self.readiness = [self._spawn.Event() for _ in range(count)]
        self.workers: list[BaseProcess | None] = [None] * count
        self.started = [0.0] * count
        self.quick_deaths = [0] * count
        self.restart_at = [0.0] * count
        self.announced = [False] * count
        self.ever_served = False

    def start(self, index: int) -> None:
        self.readiness[index].clear()
        proc = self._spawn.Process(
            target=worker_main,
            args=(*self._args, self.readiness[index]),
            name=f"caldav-gateway-worker-{index}",
            daemon=False,
        )
        proc.start()
        log.info("worker %d started (pid %s)", index, proc.pid)
        self.workers[index], self.started[index] = proc, time.monotonic()
        self.announced[index] = False

    def check(self, now: float) -> bool:
        """Restart, announce and reap workers; ``False`` when no worker ever came up."""
        for i, proc in enumerate(self.workers):
            if proc is None:
                if now >= self.restart_at[i]:
                    self.start(i)
                continue
            if not self.announced[i] and self.readiness[i].is_set():
                log.info("worker %d (pid %s) serving", i, proc.pid)
                self.announced[i] = self.ever_served = True
            if proc.exitcode is None:
                continue
            if proc.pid is not None:
                multiprocess.mark_process_dead(proc.pid, str(self._mpdir))  # type: ignore[no-untyped-call]
            if not self.ever_served:
                # No worker ever came up: a set-up problem a restart will not fix.
                log.error(
                    "worker %d (pid %s) exited with %s before any worker served; stopping",
                    *(i, proc.pid, describe_exit(proc.exitcode)),
                )
                return False
            self._schedule_restart(i, proc, now)
        return True

    def _schedule_restart(self, i: int, proc: BaseProcess, now: float) -> None:
        quick = 1 if now - self.started[i] >= STABLE_SECONDS else self.quick_deaths[i] + 1
        self.quick_deaths[i] = quick
        delay = backoff(quick)
        log.error(
            "worker %d (pid %s) exited with %s; restarting it in %.0fs",
            *(i, proc.pid, describe_exit(proc.exitcode), delay),
        )
        self.workers[i], self.restart_at[i] = None, now + delay

    async def stop(self) -> bool:
        """SIGTERM every worker, wait, kill the stragglers; ``False`` if one had to be killed."""
        running = [p for p in self.workers if p is not None]
        for proc in running:
            if proc.exitcode is None and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        clean = True
        for proc in running:
            await asyncio.to_thread(proc.join, 15)
            if proc.exitcode is None:
                proc.kill()
                clean = False
        return clean


async def supervise(
    settings: GatewaySettings,
    sock: socket.socket,
    mpdir: Path,
    log_level: str,
    log_format: str,
    metrics_sock: socket.socket | None = None,
) -> int:
    pool = _Pool(settings, sock, mpdir, log_level, log_format)
    code = 0
    async with daemon(settings.metrics_listen, metrics_sock=metrics_sock) as life:
        try:
            for i in range(settings.workers):
                pool.start(i)
            while not life.stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(life.stop.wait(), 0.2)
                if not life.stop.is_set() and not pool.check(time.monotonic()):
                    code = 1
                    break
        finally:
            if not await pool.stop():
                code = 1
    return code
