"""uvicorn embedded in a program that owns its own signals and event loop.

``uvicorn.Server.serve`` installs SIGINT/SIGTERM handlers when it runs in the main
thread; a daemon that serves ``/metrics`` beside its real work (the log sensor, the
printer sidecar) must keep its own handlers, so :class:`EmbeddedServer` leaves signals
alone and :func:`start` returns once the socket listens (or raises if it cannot bind).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def start(server: uvicorn.Server, what: str) -> asyncio.Task[None]:
    """Run ``server`` as a task of the current loop; return when it listens.

    Stop it with ``server.should_exit = True`` and await the task.
    """
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            with contextlib.suppress(SystemExit):  # uvicorn exits on a bind error
                task.result()
            raise OSError(f"cannot serve {what} (address in use or not allowed)")
        await asyncio.sleep(0.02)
    return task
