"""Which client a log line is attributed to.

The trust rules are the ASGI sensor's (:mod:`middleware.corruption.client_address`, whose
docstring holds the threat model): ``X-Forwarded-For`` is believed only from a trusted
peer and is walked right to left. Two things differ for a log line:

- nothing is trusted by default (``--trusted-proxy CIDR`` adds networks): ``$remote_addr``
  is taken as is, which is right when nginx is the edge or runs its own realip module;
- ``$proxy_protocol_addr`` (when the format logs it and the peer is trusted) is the next
  hop, read before ``X-Forwarded-For``: it is known even for a request nginx refused at
  the request line, before any header was read (then ``X-Forwarded-For`` is empty and
  nginx's realip never ran).

An entry that is not an address ends the walk, and the line stays with the peer.
"""

from __future__ import annotations

from collections.abc import Iterable

from middleware.corruption.client_address import AddressSet, client_address, normal_address
from middleware.edge.nginx_log import LogRecord


class RealClient:
    """The client a log record is attributed to: ``$remote_addr``, or what a trusted proxy
    in front of nginx says (the proxies are an :class:`AddressSet`)."""

    __slots__ = ("_any", "_proxies")

    def __init__(self, networks: Iterable[str] = ()) -> None:
        items = list(networks)
        self._proxies = AddressSet(items)  # ValueError names a bad entry
        self._any = bool(items)

    def __bool__(self) -> bool:
        return self._any

    def __repr__(self) -> str:
        return repr(self._proxies)

    def trusts(self, text: str) -> bool:
        return text in self._proxies

    def client_of(self, record: LogRecord) -> str:
        """The address ``record`` is attributed to (see the module docstring)."""
        peer = record.client
        if not self._any or peer not in self._proxies:
            return peer
        ppa = record.proxy_protocol_addr
        if ppa and normal_address(ppa) is not None:
            peer = ppa
            if peer not in self._proxies:
                return peer
        return client_address(peer, (record.forwarded_for,), self._proxies) or peer
