"""nginx's syslog datagrams: framing, and a real UDP listener."""

from __future__ import annotations

import asyncio
import socket

import pytest

from middleware.edge.syslog import NotSyslog, listen, message_of
from tests.support.net import free_port

MSG = b'1.2.3.4 - - [27/Nov/2026:03:35:15 +0000] "GET / HTTP/1.1" 200 3 "-" "-"'


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (b"<190>Nov 27 03:35:15 vm nginx: " + MSG, MSG),  # what nginx 1.22 sends
        (b"<190>Nov  7 03:35:15 vm nginx: " + MSG, MSG),  # day padded with a space
        (b"<190>Nov 27 03:35:15 nginx: " + MSG, MSG),  # nohostname
        (b"<134>Nov 27 03:35:15 host.example edgeward: " + MSG + b"\n", MSG),  # tag=, newline
        (b'<190>Nov 27 03:35:15 vm nginx: {"a": "b: c"}', b'{"a": "b: c"}'),
    ],
)
def test_message_of(datagram: bytes, message: bytes) -> None:
    assert message_of(datagram) == message


@pytest.mark.parametrize(
    "datagram",
    [b"", MSG, b"<999>Nov 27 03:35:15 vm nginx: x", b"<190>Nov 27 03:35:15 vm nginx", b"<1>x"],
)
def test_not_syslog(datagram: bytes) -> None:
    with pytest.raises(NotSyslog):
        message_of(datagram)


def test_listener_receives_framed_datagrams() -> None:
    assert asyncio.run(_receive()) == ([MSG], [1])


async def _receive() -> tuple[list[bytes], list[int]]:
    port = free_port(kind=socket.SOCK_DGRAM)
    got: list[bytes] = []
    bad: list[int] = []
    transport = await listen(f"127.0.0.1:{port}", got.append, lambda: bad.append(1))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"<190>Nov 27 03:35:15 vm nginx: " + MSG, ("127.0.0.1", port))
            s.sendto(b"not syslog", ("127.0.0.1", port))
        for _ in range(100):
            if got and bad:
                break
            await asyncio.sleep(0.01)
    finally:
        transport.close()
    return got, bad
