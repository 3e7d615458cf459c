"""Which address a request came from, for attribution: the peer, or what a trusted proxy says.

Threat model (the same as uvicorn's ``proxy_headers.py``):

- Anyone can send ``X-Forwarded-For``; its content is believed only when the TCP peer is
  a proxy the operator trusts (``trusted_proxies``: addresses, networks, or ``*``).
  A request from any other peer is attributed to the peer, whatever the header says.
- Each trusted proxy *appends* the address it received the request from. So the header is
  read right to left: entries that are themselves trusted proxies are skipped, and the first
  untrusted entry is the client — the left part of the header was written by parties we
  do not trust and is ignored. If every entry is trusted, the leftmost one is the client.
- An entry that is not an IP address (garbage, ``unknown``, an obfuscated identifier from
  RFC 7239) ends the walk: nothing to its left can be trusted, and the request is
  attributed to no address (``None``, counted as ``unknown``) rather than to a guess.
- ``*`` trusts every peer: only for a server that nothing but the proxy can reach (a Unix
  socket or a firewalled port); otherwise any client can pick the network it is blamed on.

Entries may carry a port (``1.2.3.4:5678``, ``[2001:db8::1]:443``); IPv4-mapped IPv6
(``::ffff:1.2.3.4``, what a dual-stack socket reports) is unwrapped to IPv4. The result is
a normalised text address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CACHE_SIZE: Final = 4096


def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or header entry (port, brackets, zone, IPv4-mapped handled)."""
    entry = text.strip()
    if entry.startswith("["):  # [v6] or [v6]:port
        end = entry.find("]")
        if end < 0:
            return None
        entry = entry[1:end]
    elif entry.count(":") == 1:  # v4:port
        entry = entry.split(":", 1)[0]
    entry = entry.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=_CACHE_SIZE)
def normal_address(text: str) -> str | None:
    """The normalised text form of :func:`parse_address`, cached (bounded): the same peers
    and proxies come back on every request, and ``ipaddress`` parsing costs microseconds."""
    address = parse_address(text)
    return str(address) if address is not None else None


class AddressSet:
    """A set of addresses and networks, or every address (``*``): the proxies whose
    forwarded headers are believed, or the senders a listener accepts."""

    __slots__ = ("_all", "_cache", "_hosts", "_networks")

    def __init__(self, trusted: Iterable[str] | str = ("127.0.0.1", "::1")) -> None:
        """``trusted``: addresses, networks, ``*``; a string is a comma-separated list
        (as uvicorn's ``--forwarded-allow-ips`` takes it)."""
        if isinstance(trusted, str):
            trusted = [item for item in trusted.split(",") if item.strip()]
        self._all = False
        self._hosts: set[str] = set()
        self._networks: list[IPNetwork] = []
        self._cache: dict[str, bool] = {}
        for item in trusted:
            text = item.strip()
            if text == "*":
                self._all = True
                continue
            try:
                if "/" in text:
                    self._networks.append(ipaddress.ip_network(text, strict=False))
                else:
                    address = parse_address(text)
                    if address is None or not text:
                        raise ValueError
                    self._hosts.add(str(address))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {item!r} is not an IP address, a network or '*'"
                ) from None

    def __repr__(self) -> str:
        items = ["*"] if self._all else sorted(self._hosts) + [str(n) for n in self._networks]
        return f"AddressSet({items})"

    def __contains__(self, host: object) -> bool:
        if self._all:
            return True
        if not isinstance(host, str):
            return False
        if host in self._hosts:
            return True  # the common case: the literal peer string of a local proxy
        known = self._cache.get(host)
        if known is not None:
            return known
        address = parse_address(host)
        result = address is not None and (
            str(address) in self._hosts or any(address in net for net in self._networks)
        )
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()  # bounded: a scan of many peers cannot grow it
        self._cache[host] = result
        return result


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: AddressSet
) -> str | None:
    """The client's address: ``peer``, or the header walk when ``peer`` is trusted.

    ``forwarded_for``: every ``X-Forwarded-For`` header value in order (several headers are
    one list, as RFC 7230 says of repeated fields).
    """
    if peer is None:
        return None
    if peer not in trusted:
        return normal_address(peer)
    entries = [e.strip() for value in forwarded_for for e in value.split(",")]
    entries = [e for e in entries if e]
    if not entries:
        return normal_address(peer)
    for entry in reversed(entries):
        text = normal_address(entry)
        if text is None or text not in trusted:
            return text
    return normal_address(entries[0])
