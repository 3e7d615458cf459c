"""Idle and half-open connections cannot shut legitimate clients out.

uvicorn has no timeout before a connection's first request, and asyncio waits 60 s for a TLS
handshake: 400 idle or half-sent TLS connections were all still open after 40 s, and at about
1,015 (``ulimit -n`` 1024) legitimate handshakes timed out while asyncio logged one
``socket.accept() out of system resource`` traceback per pending connection per tick (333 MB
of log in 15 s). So each serving process:

- caps the connections open at once per client (an IPv4 address or an IPv6 /64, see
  :func:`edgeward.netaddr.client_bucket`) at the listening socket, before any TLS work: one
  more is closed as soon as it is accepted (:class:`CappedListener`);
- gives a TLS handshake ``handshake_timeout`` seconds (:func:`limit_handshakes`);
- gives a connection ``header_timeout`` seconds from its start, or from the first byte of a
  later request, to send complete request headers; dripping bytes does not extend it
  (:func:`header_timeout_protocol`). Between requests uvicorn's keep-alive timeout applies;
- logs event-loop errors such as failed ``accept()`` calls once per ``interval`` with a count
  of the ones it did not log, and without a traceback for OS errors
  (:class:`RateLimitedLoopErrors`).

The counts are per process: with ``--workers N`` a client may hold N times the cap.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from caldav_gateway import metrics
from edgeward.logs import get_logger
from edgeward.netaddr import client_bucket

log = get_logger("caldav_gateway.connections")


class ClientConnections:
    """How many connections each client holds open in this process."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.open: dict[str, int] = {}

    def admit(self, peer: str) -> str | None:
        """The client's bucket if it may open one more connection (counted), else ``None``."""
        bucket = client_bucket(peer)
        held = self.open.get(bucket, 0)
        if held >= self.per_client:
            return None
        self.open[bucket] = held + 1
        metrics.CONNECTIONS_OPEN.inc()
        return bucket

    def release(self, bucket: str) -> None:
        metrics.CONNECTIONS_OPEN.dec()
        left = self.open.get(bucket, 0) - 1
        if left > 0:
            self.open[bucket] = left
        else:
            self.open.pop(bucket, None)


class CountedSocket(socket.socket):
    """An accepted connection that gives its place back when closed."""

    release: Callable[[], None] | None = None

    def close(self) -> None:
        release, self.release = self.release, None
        if release is not None:
            release()
        super().close()


class CappedListener(socket.socket):
    """A listening socket whose ``accept()`` closes connections over the per-client cap.

    asyncio's selector loop calls ``accept()`` on the socket it was given, so the cap holds
    before the TLS handshake, which is what a half-open-handshake flood occupies.
    """

    connections: ClientConnections

    @classmethod
    def wrap(cls, sock: socket.socket, connections: ClientConnections) -> CappedListener:
        listener = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        listener.connections = connections
        return listener

    def accept(self) -> tuple[socket.socket, Any]:
        while True:
            fd, addr = self._accept()  # type: ignore[attr-defined]  # BlockingIOError ends the batch
            peer = addr[0] if isinstance(addr, tuple) else str(addr)
            bucket = self.connections.admit(peer)
            if bucket is None:
                os.close(fd)
                metrics.CONNECTIONS_CLOSED.labels("per_client_cap").inc()
                continue
            conn = CountedSocket(self.family, self.type, self.proto, fileno=fd)
            conn.release = functools.partial(self.connections.release, bucket)
            if socket.getdefaulttimeout() is None and self.gettimeout():
                conn.setblocking(True)
            return conn, addr


def limit_handshakes(loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    """Make ``loop.create_server`` (called by uvicorn) give TLS handshakes ``seconds``.

    uvicorn does not expose asyncio's ``ssl_handshake_timeout`` (60 s by default).
    """
    create_server = loop.create_server

    async def create_tls_server(*args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", seconds)
        return await create_server(*args, **kwargs)

    loop.create_server = create_tls_server  # type: ignore[method-assign]


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers take too long."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._waiting_for_headers():
                self._arm()  # a no-op while armed: dripping bytes does not extend it
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _waiting_for_headers(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if self._waiting_for_headers() and not self.transport.is_closing():
                metrics.CONNECTIONS_CLOSED.labels("header_timeout").inc()
                self.transport.close()

    return HeaderTimeoutProtocol


class RateLimitedLoopErrors:
    """An event-loop exception handler that logs each kind of error once per ``interval``."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        exc = context.get("exception")
        if message.startswith("socket.accept()"):
            metrics.CONNECTIONS_CLOSED.labels("accept_error").inc()
        kind = f"{message} {type(exc).__name__}"
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        skipped = self._suppressed.pop(kind, 0)
        more = f" ({skipped} more like it not logged)" if skipped else ""
        # An OS error (out of file descriptors...) needs no traceback; a bug does.
        trace = exc if isinstance(exc, BaseException) and not isinstance(exc, OSError) else None
        log.log(
            logging.ERROR,
            "%s%s%s",
            message,
            f": {exc}" if exc is not None else "",
            more,
            exc_info=trace,
        )
