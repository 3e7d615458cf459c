"""Which client a log line is attributed to.

Threat model. The address nginx logs as ``$remote_addr`` is the TCP peer, unless nginx's
realip module replaced it (``set_real_ip_from`` + ``real_ip_header``). Anyone can write an
``X-Forwarded-For`` header or a PROXY-protocol line, so they are believed only when the
peer that handed them over is a trusted proxy (``--trusted-proxy CIDR``, empty by
default: ``$remote_addr`` is taken as is, which is right when nginx is the edge or when
nginx's own realip module is configured).

When the logged address is a trusted proxy:

1. ``$proxy_protocol_addr`` (when the format logs it and it is set) is the next hop;
   it is known even for a request nginx refused at the request line, before any header
   was read (then ``X-Forwarded-For`` is empty and realip never ran);
2. otherwise ``X-Forwarded-For`` is walked right to left, skipping trusted proxies; the
   first address that is not trusted is the client, as nginx's ``real_ip_recursive on``.

If every hop is trusted, the left-most one is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

from middleware.edge.nginx_log import LogRecord

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None


class TrustedProxies:
    """A set of networks whose forwarded addresses are believed."""

    __slots__ = ("_cache", "_networks")

    def __init__(self, networks: Iterable[str] = ()) -> None:
        nets: list[Network] = []
        for text in networks:
            try:
                nets.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{text!r} is not an address or CIDR network") from None
        self._networks: Final = tuple(nets)
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self._networks]})"

    def trusts(self, text: str) -> bool:
        hit = self._cache.get(text)
        if hit is None:
            addr = _address(text)
            hit = addr is not None and any(addr in n for n in self._networks)
            if len(self._cache) < 4096:  # a few proxies in practice; bounded anyway
                self._cache[text] = hit
        return hit

    def client_of(self, record: LogRecord) -> str:
        """The address ``record`` is attributed to (see the module's threat model)."""
        client = record.client
        if not self._networks or not self.trusts(client):
            return client
        if record.proxy_protocol_addr and _address(record.proxy_protocol_addr) is not None:
            client = record.proxy_protocol_addr
            if not self.trusts(client):
                return client
        hops = [h.strip() for h in record.forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if _address(hop) is None:
                return client  # garbage in the chain: stop at the last address we believe
            client = hop
            if not self.trusts(hop):
                return hop
        return client
