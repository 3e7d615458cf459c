"""How every daemon starts and stops: one stop event, SIGINT/SIGTERM, ``/metrics``, servers.

The log sensor (``dpi-watch``), the CalDAV gateway (supervisor and worker), the printer
sidecar and the VPN download pages all run the same way::

    async with daemon(metrics_listen) as life:
        await life.serve(server, "CalDAV", sock)   # or: await work(life.stop)

- SIGINT and SIGTERM set :attr:`Lifecycle.stop`. The handlers stay until the loop closes:
  a second signal during shutdown (a process manager that signals the group, then the
  process) must not turn a clean exit into a traceback.
- ``/metrics`` is served on ``metrics_listen`` unless it is ``off`` (:data:`OFF`, the one
  spelling every command accepts; the empty string still means the same for old configs).
  A taken or non-local address is an ``OSError`` naming the address.
- On exit everything registered stops in the reverse order it started: uvicorn servers
  (``should_exit``, then their task), then ``/metrics`` last, so the final counts of a
  shutdown can still be scraped while the work winds down.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import uvicorn

from edgeward.logs import get_logger
from edgeward.metrics import serve_metrics
from edgeward.serving import start

log = get_logger("edgeward.lifecycle")

OFF: Final = "off"
"""The value of a metrics address that means "serve no /metrics"."""

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def metrics_enabled(listen: str | None) -> bool:
    """Whether ``listen`` names a ``/metrics`` address (not ``off``, empty or ``None``)."""
    return bool(listen) and listen != OFF


class Lifecycle:
    """What a running daemon holds: its stop event and what to stop on the way out."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def on_exit(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` on exit (closers run last-registered first)."""
        self._closers.append(closer)

    async def start_server(
        self, server: uvicorn.Server, what: str, sock: socket.socket
    ) -> asyncio.Task[None]:
        """Start ``server`` (returns once it serves); it is stopped on exit."""
        task = await start(server, what, sock)

        async def close() -> None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await task

        self.on_exit(close)
        return task

    async def serve(
        self,
        server: uvicorn.Server,
        what: str,
        sock: socket.socket,
        *,
        ready: Callable[[], None] | None = None,
    ) -> None:
        """Serve until the stop event is set or the server ends by itself.

        ``ready`` is called once the server accepts connections.
        """
        task = await self.start_server(server, what, sock)
        if ready is not None:
            ready()
        await self.wait(task)

    async def wait(self, task: asyncio.Task[None]) -> None:
        """Until the stop event is set or ``task`` (a server) ends by itself."""
        stopping = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if task.done():
            with contextlib.suppress(SystemExit):
                task.result()

    async def close(self) -> None:
        self.stop.set()
        while self._closers:
            await self._closers.pop()()


@contextlib.asynccontextmanager
async def daemon(
    metrics_listen: str | None = None,
    *,
    metrics_sock: socket.socket | None = None,
    stop: asyncio.Event | None = None,
    signals: bool = True,
) -> AsyncIterator[Lifecycle]:
    """Install the stop signals, serve ``/metrics``, and stop everything in order on exit.

    ``metrics_sock``: already bound to ``metrics_listen`` (a program that says "serving"
    only once every socket is bound). ``signals=False``: the caller owns the signals.
    """
    life = Lifecycle(stop if stop is not None else asyncio.Event())
    if signals:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, life.stop.set)
    try:
        if metrics_enabled(metrics_listen):
            assert metrics_listen is not None
            server, task = await serve_metrics(metrics_listen, sock=metrics_sock)

            async def close_metrics() -> None:
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await task

            life.on_exit(close_metrics)
            log.info("metrics on http://%s/metrics", metrics_listen)
        yield life
    finally:
        await life.close()
