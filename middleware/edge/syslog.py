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

UDP is also unauthenticated: anyone who can reach the port could inject log lines, and so
events blamed on any address. Datagrams are accepted only from the configured senders
(``allow``: addresses or networks, loopback by default, where nginx runs beside the
sensor); the others are counted (``edgeward_edge_syslog_refused_total``) and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import Callable, Container
from typing import Final

from edgeward.logs import get_logger
from edgeward.netaddr import parse_hostport
from middleware.corruption.client_address import AddressSet

log = get_logger("middleware.edge.syslog")

_HEADER: Final = re.compile(rb"<(\d{1,3})>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} ")
_RCVBUF: Final = 4 << 20  # absorb bursts while the event loop is busy
DEFAULT_ALLOW: Final = ("127.0.0.0/8", "::1")  # nginx beside the sensor (host, pod, compose)


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
    def __init__(
        self,
        on_message: Callable[[bytes], None],
        on_bad: Callable[[], None],
        allow: Container[str],
        on_refused: Callable[[str], None],
    ) -> None:
        self.on_message = on_message
        self.on_bad = on_bad
        self.allow = allow
        self.on_refused = on_refused

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        sender = str(addr[0])
        if sender not in self.allow:
            self.on_refused(sender)
            return
        try:
            message = message_of(data)
        except NotSyslog:
            self.on_bad()
            return
        self.on_message(message)

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog socket error: %s", exc)


async def listen(
    address: str,
    on_message: Callable[[bytes], None],
    on_bad: Callable[[], None],
    *,
    allow: Container[str] | None = None,
    on_refused: Callable[[str], None] = lambda sender: None,
) -> asyncio.DatagramTransport:
    """Listen on ``HOST:PORT`` (UDP); each framed message from a sender in ``allow`` goes to
    ``on_message``, a datagram from anyone else to ``on_refused(sender)``.

    Returns the transport (close it to stop). Raises ``OSError`` naming the address if it
    cannot listen there (taken, not local).
    """
    host, port = parse_hostport(address)
    senders = AddressSet(DEFAULT_ALLOW) if allow is None else allow
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(on_message, on_bad, senders, on_refused), local_addr=(host, port)
        )
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on {address} (UDP): {exc.strerror}") from None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the kernel's limit applies; not fatal
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    log.info("receiving nginx syslog datagrams on %s", address)
    return transport
