"""nginx's syslog datagrams: framing, and a real UDP listener."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.corruption.client_address import AddressSet
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


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda pri, rest: b"<" + pri + b">Nov 27 03:35:15 vm nginx: " + rest,
            st.from_regex(rb"\A\d{1,5}\Z"),
            st.binary(max_size=100),
        ),
    )
)
def test_message_of_gives_a_message_or_not_syslog(datagram: bytes) -> None:
    try:
        message = message_of(datagram)
    except NotSyslog:
        return
    assert isinstance(message, bytes) and message in datagram


def test_only_allowed_senders_are_heard() -> None:
    allow = AddressSet(["127.0.0.2"])
    got, bad, refused = asyncio.run(_receive_from(["127.0.0.1", "127.0.0.2"], allow=allow))
    assert (got, bad, refused) == ([MSG], [], ["127.0.0.1"])


def test_loopback_is_the_default_sender() -> None:
    got, _bad, refused = asyncio.run(_receive_from(["127.0.0.1", "127.0.0.2"], allow=None))
    assert (got, refused) == ([MSG, MSG], [])


async def _receive_from(
    sources: list[str], allow: AddressSet | None
) -> tuple[list[bytes], list[int], list[str]]:
    port = free_port(kind=socket.SOCK_DGRAM)
    got: list[bytes] = []
    bad: list[int] = []
    refused: list[str] = []
    transport = await listen(
        f"127.0.0.1:{port}", got.append, lambda: bad.append(1), allow=allow,
        on_refused=refused.append,
    )  # fmt: skip
    try:
        for source in sources:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((source, 0))
                s.sendto(b"<190>Nov 27 03:35:15 vm nginx: " + MSG, ("127.0.0.1", port))
        deadline = asyncio.get_running_loop().time() + 30
        while len(got) + len(refused) < len(sources):
            assert asyncio.get_running_loop().time() < deadline, "datagrams not seen"
            await asyncio.sleep(0.01)
    finally:
        transport.close()
    return got, bad, refused


def test_a_taken_address_is_named() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        with pytest.raises(OSError, match=address.replace(".", r"\.")):
            asyncio.run(listen(address, lambda m: None, lambda: None))
