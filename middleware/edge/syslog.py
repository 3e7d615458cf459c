"""Receive nginx's ``access_log syslog:server=HOST:PORT`` datagrams (UDP).

nginx frames each log line as RFC 3164 (BSD syslog), one line per datagram::

    <190>Nov 27 03:35:15 myhost nginx: 127.0.0.1 - - [27/Nov/2026:03:35:15 +0000] "GET ...

``<PRI>``, a 15-character ``Mmm dd hh:mm:ss`` timestamp (day padded with a space), the
hostname (absent with nginx's ``nohostname`` option), the tag (``nginx`` unless
``tag=...``) and ``": "``, then the message. Neither hostname nor tag holds ``": "``, so
the message starts after its first occurrence. nginx cuts messages that do not fit its
syslog buffer (a few KB): such a line fails to parse and is counted as malformed.

UDP is lossy by design: nginx never blocks on its log, and neither does this listener;
datagrams lost in the kernel's buffer are not seen (use the file tail for a complete
count).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import Callable
from typing import Final

from edgeward.logs import get_logger
from edgeward.netaddr import parse_hostport

log = get_logger("middleware.edge.syslog")

_HEADER: Final = re.compile(rb"<(\d{1,3})>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} ")
_RCVBUF: Final = 4 << 20  # absorb bursts while the event loop is busy


class NotSyslog(ValueError):
    """A datagram without RFC 3164 framing."""


def message_of(datagram: bytes) -> bytes:
    """The log line inside one nginx syslog datagram; ``NotSyslog`` if it is not framed."""
    m = _HEADER.match(datagram)
    if m is None or int(m.group(1)) > 191:
        raise NotSyslog(f"no RFC 3164 header: {datagram[:40]!r}")
    sep = datagram.find(b": ", m.end())
    if sep < 0:
        raise NotSyslog(f"no tag in syslog datagram: {datagram[:60]!r}")
    return datagram[sep + 2 :].rstrip(b"\r\n")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: Callable[[bytes], None], on_bad: Callable[[], None]) -> None:
        self.on_message = on_message
        self.on_bad = on_bad

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            message = message_of(data)
        except NotSyslog:
            self.on_bad()
            return
        self.on_message(message)

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog socket error: %s", exc)


async def listen(
    address: str, on_message: Callable[[bytes], None], on_bad: Callable[[], None]
) -> asyncio.DatagramTransport:
    """Listen on ``HOST:PORT`` (UDP); each framed message goes to ``on_message``.

    Returns the transport (close it to stop). Raises ``OSError`` if the address is taken.
    """
    host, port = parse_hostport(address)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(on_message, on_bad), local_addr=(host, port)
    )
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the kernel's limit applies; not fatal
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    log.info("receiving nginx syslog datagrams on %s", address)
    return transport
