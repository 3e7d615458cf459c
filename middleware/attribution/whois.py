"""ipwhois as the second resolver: for public addresses the prefix table does not hold.

ipwhois 1.3 is blocking (dnspython, sockets, urllib) and, on an HTTP rate limit, sleeps
120 s by default; it must never run on the event loop. So :class:`WhoisResolver`:

- runs ``IPASN(Net(ip)).lookup`` in its own small thread pool (``concurrency`` threads, so
  a slow or dead whois service can hold at most that many threads, and never the loop's
  default executor);
- uses the ``dns`` method first (Team Cymru's ``origin.asn.cymru.com`` TXT records, one UDP
  round trip) and optionally ``whois`` (``whois.cymru.com:43``); ``http`` (ARIN) is refused,
  since it is the method that sleeps on a rate limit;
- gives each lookup ``timeout`` seconds (DNS timeout and lifetime, socket timeout, one
  attempt, no retries) and stops waiting for it after twice that;
- caches answers per /24 (IPv4) or /48 (IPv6) — the longest prefixes announced in BGP —
  for ``ttl`` seconds and failures for ``negative_ttl``, in an LRU of ``cache_size``
  entries, so a million clients cost at most ``cache_size`` entries;
- spends at most ``per_minute`` lookups a minute; beyond that the address is ``unknown``
  (not cached: it is resolved once the budget allows);
- answers ``None`` for private, loopback and reserved addresses without any lookup.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from edgeward.logs import get_logger
from middleware.attribution.prefix_table import ASNInfo
from middleware.metrics import WHOIS_LOOKUPS

log = get_logger("middleware.whois")

METHODS: Final = ("dns", "whois")
_MISS: Final = object()


class WhoisResolver:
    def __init__(
        self,
        *,
        methods: Sequence[str] = ("dns",),
        nameservers: Sequence[str] | None = None,
        port: int = 53,
        timeout: float = 2.0,
        ttl: float = 24 * 3600.0,
        negative_ttl: float = 3600.0,
        cache_size: int = 10_000,
        concurrency: int = 2,
        per_minute: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``nameservers``/``port``: the DNS resolver ipwhois asks (default: the system's)."""
        bad = [m for m in methods if m not in METHODS]
        if bad or not methods:
            raise ValueError(
                f"whois methods must be among {', '.join(METHODS)} (http is refused: it sleeps "
                f"120 s on a rate limit); got {list(methods)}"
            )
        if timeout <= 0 or concurrency < 1 or cache_size < 1 or per_minute < 0:
            raise ValueError("timeout > 0, concurrency >= 1, cache_size >= 1, per_minute >= 0")
        self.methods = list(methods)
        self.nameservers = list(nameservers) if nameservers else None
        self.port = port
        self.timeout = timeout
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.cache_size = cache_size
        self.concurrency = concurrency
        self.per_minute = per_minute
        self._clock = clock
        self._cache: OrderedDict[tuple[int, int], tuple[float, ASNInfo | None]] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # One semaphore per event loop (tests and tools may run several loops in turn).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        self._budget_window = 0.0
        self._budget_used = 0
        self.lookups = 0

    def __repr__(self) -> str:
        return (
            f"WhoisResolver(methods={self.methods}, nameservers={self.nameservers}, "
            f"port={self.port}, cached={len(self._cache)})"
        )

    def cached(self) -> int:
        return len(self._cache)

    async def resolve(self, ip: str) -> ASNInfo | None:
        """The AS of the public address ``ip``, or ``None`` (unknown, failed, over budget)."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if not address.is_global:
            return None
        value = int(address)
        key = (4, value >> 8) if address.version == 4 else (6, value >> 80)
        now = self._clock()
        hit = self._cache_get(key, now)
        if hit is not _MISS:
            WHOIS_LOOKUPS.labels("cached" if hit is not None else "negative").inc()
            return hit  # type: ignore[return-value]
        if not self._spend(now):
            WHOIS_LOOKUPS.labels("budget").inc()
            return None
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        async with semaphore:
            hit = self._cache_get(key, self._clock())  # a sibling may have resolved it
            if hit is not _MISS:
                return hit  # type: ignore[return-value]
            self.lookups += 1
            future = loop.run_in_executor(self._pool(), self._lookup, str(address))
            try:
                info, outcome = await asyncio.wait_for(future, timeout=2 * self.timeout + 0.5)
            except TimeoutError:
                info, outcome = None, "timeout"
        WHOIS_LOOKUPS.labels(outcome).inc()
        self._cache_put(key, info, self._clock())
        return info

    def close(self) -> None:
        """Stop the threads (a lookup in flight finishes on its own, bounded by ``timeout``)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- internals ---------------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="edgeward-whois"
                )
            return self._executor

    def _spend(self, now: float) -> bool:
        if now - self._budget_window >= 60.0:
            self._budget_window = now
            self._budget_used = 0
        if self._budget_used >= self.per_minute:
            return False
        self._budget_used += 1
        return True

    def _cache_get(self, key: tuple[int, int], now: float) -> object:
        entry = self._cache.get(key)
        if entry is None:
            return _MISS
        expires, info = entry
        if now >= expires:
            del self._cache[key]
            return _MISS
        self._cache.move_to_end(key)
        return info

    def _cache_put(self, key: tuple[int, int], info: ASNInfo | None, now: float) -> None:
        self._cache[key] = (now + (self.ttl if info is not None else self.negative_ttl), info)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _lookup(self, ip: str) -> tuple[ASNInfo | None, str]:
        """One blocking ipwhois lookup (runs in the pool)."""
        from ipwhois.asn import IPASN
        from ipwhois.exceptions import ASNLookupError, ASNRegistryError, IPDefinedError
        from ipwhois.net import Net

        try:
            net = Net(ip, timeout=self.timeout)
            if self.nameservers:
                net.dns_resolver.nameservers = self.nameservers
                net.dns_resolver.port = self.port
            net.dns_resolver.lifetime = self.timeout
            result = IPASN(net).lookup(
                retry_count=0, asn_methods=self.methods, get_asn_description=True
            )
        except IPDefinedError:
            return None, "not_found"
        except (ASNLookupError, ASNRegistryError) as exc:
            log.debug("whois lookup of %s failed: %s", ip, exc)
            return None, "not_found"
        except Exception as exc:  # ipwhois raises many kinds; none may reach the loop
            log.warning("whois lookup of %s failed: %s: %s", ip, type(exc).__name__, exc)
            return None, "error"
        asn_text = str(result.get("asn") or "").split()
        if not asn_text or not asn_text[0].isdigit():
            return None, "not_found"
        name = str(result.get("asn_description") or "")
        if name == "NA":
            name = ""
        return ASNInfo(int(asn_text[0]), name, str(result.get("asn_cidr") or "")), "ok"
