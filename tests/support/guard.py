"""The loopback guard: tests may only talk to 127.0.0.0/8 and ::1.

Installed for the whole session by ``tests/conftest.py``. Any attempt to connect or send
to another address, or to resolve a name other than ``localhost``, raises
:class:`NetworkEscape` at once, so a test that would reach a registry, a whois server or
the system resolver fails loudly instead of making traffic. Child processes (nginx,
snmpd) are configured on loopback by the tests themselves.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_getaddrinfo = socket.getaddrinfo


class NetworkEscape(AssertionError):
    pass


def _allowed_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in ("localhost", "localhost.", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6)
    if inet and isinstance(address, tuple) and not _allowed_host(address[0]):
        raise NetworkEscape(f"test tried to reach {address[0]!r}: only loopback is allowed")


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check(self, args[-1])
    return _real_sendto(self, data, *args)  # type: ignore[arg-type]


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _allowed_host(host):
        raise NetworkEscape(f"test tried to resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _getaddrinfo
