"""uvicorn embedded in a program that owns its own signals, sockets and event loop.

- :func:`bind_tcp` binds the listening socket *before* uvicorn runs, so a taken address
  is an ordinary ``OSError`` at start-up (uvicorn itself reports it with ``sys.exit``
  inside its serve task, which escapes the event loop), and so that accepted
  connections get ``TCP_NODELAY``.
- :class:`EmbeddedServer` leaves SIGINT/SIGTERM to the program: a daemon that serves
  ``/metrics`` beside its real work (the log sensor, the printer sidecar) keeps its own
  handlers.
- :func:`start` runs the server as a task on such a socket and returns once it serves. The
  socket is required: left to bind by itself, uvicorn answers a taken port with
  ``sys.exit`` from inside its task, and ``SystemExit`` leaves ``asyncio.run`` before any
  caller can name the address.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn

from edgeward.netaddr import parse_hostport


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_tcp(listen: str, *, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``HOST:PORT``; ``OSError`` names the address on failure."""
    host, port = parse_hostport(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket's proto is IPPROTO_TCP (socket.create_server leaves 0), and without
    # it every two-write answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {listen}: {exc.strerror}") from None
    return sock


async def start(server: uvicorn.Server, what: str, sock: socket.socket) -> asyncio.Task[None]:
    """Run ``server`` as a task of the current loop on ``sock`` (from :func:`bind_tcp`);
    return when it serves. Stop it with ``server.should_exit = True`` and await the task.
    """
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            with contextlib.suppress(SystemExit):
                task.result()
            raise OSError(f"cannot serve {what}")
        await asyncio.sleep(0.02)
    return task
