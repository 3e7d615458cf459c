"""The PROXY protocol header a load balancer puts before a connection's first byte.

Version 1 is one text line (``PROXY TCP4 SRC DST SPORT DPORT\\r\\n``, at most 107 bytes);
version 2 is binary (a 12-byte signature, version/command, family, length, addresses).
Only the source address is used: it is the client the balancer saw. ``UNKNOWN`` (v1),
``LOCAL`` (v2, the balancer's own health checks) and families other than TCP over IPv4/6
leave the connection's peer as the client.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

V1_PREFIX: Final = b"PROXY "
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
_V1_MAX: Final = 107


class Incomplete(Exception):
    """More bytes are needed to read the header."""


def parse(data: bytes) -> tuple[int, str | None] | None:
    """``(header length, client or None)`` for a header at the start of ``data``.

    ``None`` when ``data`` does not start with a valid header; :class:`Incomplete` when it
    may, but is too short to tell.
    """
    if data.startswith(V2_SIGNATURE):
        return _v2(data)
    if data.startswith(V1_PREFIX):
        return _v1(data)
    if V1_PREFIX.startswith(data[:6]) or V2_SIGNATURE.startswith(data[:12]):
        raise Incomplete
    return None


def _v1(data: bytes) -> tuple[int, str | None] | None:
    end = data.find(b"\r\n", 0, _V1_MAX)
    if end < 0:
        if len(data) < _V1_MAX:
            raise Incomplete
        return None
    parts = data[:end].split(b" ")
    if len(parts) >= 2 and parts[1] == b"UNKNOWN":
        return end + 2, None
    if len(parts) != 6 or parts[1] not in (b"TCP4", b"TCP6"):
        return None
    try:
        addr = ipaddress.ip_address(parts[2].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if addr.version != (4 if parts[1] == b"TCP4" else 6):
        return None
    return end + 2, str(addr)


def _v2(data: bytes) -> tuple[int, str | None] | None:
    if len(data) < 16:
        raise Incomplete
    ver_cmd, family = data[12], data[13]
    size = 16 + ((data[14] << 8) | data[15])
    if ver_cmd >> 4 != 2:
        return None
    if len(data) < size:
        raise Incomplete
    if ver_cmd & 0x0F == 0:  # LOCAL
        return size, None
    if family == 0x11 and size >= 16 + 12:
        return size, socket.inet_ntop(socket.AF_INET, data[16:20])
    if family == 0x21 and size >= 16 + 36:
        return size, socket.inet_ntop(socket.AF_INET6, data[16:32])
    return size, None
