"""A small HTTP/1.1 server on asyncio streams and h11.

The emulator needs what a framework hides: closing the *listening* socket for a reboot,
aborting a connection mid-upload with a TCP reset, and TLS that works without SNI.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11

from edgeward.logs import get_logger

log = get_logger("printer_sync.emulator")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(Exception):
            jar.load(self.headers.get("cookie", ""))
        return {k: m.value for k, m in jar.items()}

    def form(self) -> dict[str, str]:
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}


@dataclass
class Response:
    body: str | bytes = b""
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/html; charset=utf-8"
    after: Callable[[], Coroutine[Any, Any, None]] | None = None  # runs once the answer is sent


Handler = Callable[[Request], Awaitable[Response]]
AbortCheck = Callable[[str, str], bool]  # (method, path) → reset the connection mid-body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, as a device whose network stack gives up does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class HTTPServer:
    def __init__(self, handler: Handler, abort_check: AbortCheck) -> None:
        self.handler = handler
        self.abort_check = abort_check
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # work after an answer (reboots)
        self.draining = False  # between "Shutting down" and the reboot
        self._closing: asyncio.Server | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def listen(self, host: str, port: int, ctx: ssl.SSLContext) -> int:
        self.draining = False
        self._server = await asyncio.start_server(
            self._connection, host, port, ssl=ctx, reuse_address=True, ssl_handshake_timeout=10
        )
        return int(self._server.sockets[0].getsockname()[1])

    def stop_accepting(self) -> None:
        """From now on: no new connections, and none kept alive past its current answer
        (a device that said "Shutting down" serves nothing more; :meth:`close` follows)."""
        self.draining = True
        if self._server is not None:
            self._server.close()
            self._closing = self._server
            self._server = None

    async def close(self) -> None:
        """Stop listening and drop every connection (what a reboot does)."""
        server, self._server = self._server or self._closing, None
        self._closing = None
        if server is not None:
            server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await self._next(conn, reader)
                if not isinstance(event, h11.Request):
                    return
                method = event.method.decode()
                target = event.target.decode("ascii", "replace")
                path = urlsplit(target).path
                if self.abort_check(method, path):
                    # The upload has begun (its head, maybe some body, is in): reset now.
                    # (Waiting for more body could wait forever: h11 may hold all of it.)
                    _reset(writer)
                    return
                body = bytearray()
                while True:
                    part = await self._next(conn, reader)
                    if isinstance(part, h11.Data):
                        body += part.data
                    elif isinstance(part, h11.EndOfMessage):
                        break
                    else:
                        return
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
                try:
                    response = await self.handler(Request(method, path, headers, bytes(body)))
                except Exception:
                    log.exception("emulator bug answering %s %s", method, path)
                    response = Response("Internal Server Error", status=500)
                data = response.body.encode() if isinstance(response.body, str) else response.body
                head = [
                    ("Content-Type", response.content_type),
                    ("Content-Length", str(len(data))),
                    ("Server", "EPSON_Linux UPnP/1.0 Epson UPnP SDK/1.0"),
                    ("Cache-Control", "no-cache"),
                    *response.headers,
                ]
                writer.write(conn.send(h11.Response(status_code=response.status, headers=head)))
                writer.write(conn.send(h11.Data(data=data)) or b"")
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                if response.after is not None:
                    task = asyncio.get_running_loop().create_task(response.after())
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                if self.draining:
                    return  # the answer is out; the connection closes with the device
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, h11.LocalProtocolError):
            return
        except (ConnectionError, ssl.SSLError, OSError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    @staticmethod
    async def _next(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            return event
