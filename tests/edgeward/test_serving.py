"""uvicorn embedded: the socket bound first (a taken address is an ordinary error naming
it), TCP_NODELAY on accepted connections, signals left to the program, ``start`` returning
once the server serves."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from edgeward.serving import EmbeddedServer, bind_tcp, start


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def test_bind_tcp_listens_with_nodelay() -> None:
    sock = bind_tcp("127.0.0.1:0")
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        assert sock.proto == socket.IPPROTO_TCP  # what asyncio needs to set NODELAY on accepts
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            conn, _ = sock.accept()
            conn.close()
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("listen", "says"),
    [
        ("{taken}", "cannot listen on 127.0.0.1:{port}: Address already in use"),
        ("192.0.2.1:0", "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    ],
)
def test_bind_tcp_names_the_address_it_cannot_listen_on(listen: str, says: str) -> None:
    taken = bind_tcp("127.0.0.1:0")
    try:
        port = taken.getsockname()[1]
        listen = listen.replace("{taken}", f"127.0.0.1:{port}")
        with pytest.raises(OSError, match=r"^cannot listen on ") as exc:
            bind_tcp(listen)
        assert str(exc.value) == says.replace("{port}", str(port))
    finally:
        taken.close()


def test_bind_tcp_ipv6() -> None:
    try:
        sock = bind_tcp("[::1]:0")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with sock:
        assert sock.family == socket.AF_INET6


def test_start_serves_on_the_socket_and_leaves_signals_alone() -> None:
    async def main() -> tuple[bytes, bool, object]:
        before = signal.getsignal(signal.SIGINT)
        sock = bind_tcp("127.0.0.1:0")
        port = sock.getsockname()[1]
        server = EmbeddedServer(uvicorn.Config(hello, log_level="warning", lifespan="off"))
        task = await start(server, "hello", sock)
        assert server.started  # start returns only once it serves
        during = signal.getsignal(signal.SIGINT)
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"http://127.0.0.1:{port}/", timeout=30)
        server.should_exit = True
        await task
        return reply.content, during is before, sock.fileno()

    body, untouched, fileno = asyncio.run(main())
    assert body == b"hello"
    assert untouched  # uvicorn.Server would have installed its own handler
    assert fileno == -1  # uvicorn closed the socket on shutdown


def test_start_raises_when_the_server_cannot_serve() -> None:
    """A socket closed under it: start() raises instead of waiting for ``started``."""

    async def main() -> None:
        sock = bind_tcp("127.0.0.1:0")
        sock.close()
        config = uvicorn.Config(hello, log_level="critical", lifespan="off")
        await asyncio.wait_for(start(EmbeddedServer(config), "the test app", sock), 60)

    with pytest.raises(OSError, match=r".") as exc:  # uvicorn's own error, not a hang
        asyncio.run(main())
    assert not isinstance(exc.value, TimeoutError)
