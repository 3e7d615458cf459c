"""WhoisResolver: ipwhois' real DNS code path against a Team Cymru look-alike on loopback."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from middleware.attribution.attributor import Attributor
from middleware.attribution.events import CorruptionEvent
from middleware.attribution.prefix_table import ASNInfo, PrefixTable
from middleware.attribution.whois import WhoisResolver
from tests.support.cymru_dns import CymruDNS, cymru_dns

SINGTEL = "SINGTEL-FIBRE Singtel Fibre Broadband, SG"
PREFIXES = {
    "116.14.0.0/15": (9506, "SG", "apnic", SINGTEL),
    "116.14.8.0/24": (4657, "SG", "apnic", "STARHUB-INTERNET StarHub Ltd, SG"),
    "2406:3000::/32": (9506, "SG", "apnic", SINGTEL),
}


@pytest.fixture
def dns() -> Iterator[CymruDNS]:
    with cymru_dns(PREFIXES) as server:
        yield server


def resolver(dns: CymruDNS, **kwargs: object) -> WhoisResolver:
    return WhoisResolver(nameservers=["127.0.0.1"], port=dns.port, timeout=1.0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ip", "expect"),
    [
        ("116.14.2.3", ASNInfo(9506, SINGTEL, "116.14.0.0/15")),
        ("116.14.8.77", ASNInfo(4657, "STARHUB-INTERNET StarHub Ltd, SG", "116.14.8.0/24")),
        ("2406:3000:11:1::5", ASNInfo(9506, SINGTEL, "2406:3000::/32")),
        ("8.8.8.8", None),  # NXDOMAIN: not announced
    ],
)
def test_ipwhois_resolves_through_the_local_cymru_dns(
    dns: CymruDNS, ip: str, expect: ASNInfo | None
) -> None:
    r = resolver(dns)
    assert asyncio.run(r.resolve(ip)) == expect
    assert any("origin" in q for q in dns.queries)  # ipwhois really asked
    if expect is not None:
        assert f"as{expect.asn}.asn.cymru.com." in [q.lower() for q in dns.queries]
    r.close()


@pytest.mark.parametrize(
    "ip",
    ["10.0.0.1", "192.168.1.1", "172.16.5.5", "127.0.0.1", "::1", "100.64.0.1", "192.0.2.1",
     "198.51.100.7", "224.0.0.1", "0.0.0.0", "fe80::1", "fd00::1", "2001:db8::1", "not-an-ip"],
)  # fmt: skip
def test_private_loopback_and_reserved_are_unknown_without_a_query(dns: CymruDNS, ip: str) -> None:
    assert asyncio.run(resolver(dns).resolve(ip)) is None
    assert dns.queries == []


def test_answers_and_failures_are_cached_per_slash_24(dns: CymruDNS) -> None:
    r = resolver(dns)

    async def main() -> None:
        assert (await r.resolve("116.14.2.3")) is not None
        asked = len(dns.queries)
        assert (await r.resolve("116.14.2.200")) is not None  # same /24
        assert (await r.resolve("8.8.8.8")) is None
        asked_after_miss = len(dns.queries)
        assert (await r.resolve("8.8.8.9")) is None  # negative cache
        assert len(dns.queries) == asked_after_miss
        assert asked_after_miss == asked + 1  # the miss asked once (no AS lookup)

    asyncio.run(main())
    assert r.lookups == 2


def test_the_cache_is_capped(dns: CymruDNS) -> None:
    r = resolver(dns, cache_size=5, per_minute=1000)

    async def main() -> None:
        for i in range(12):
            await r.resolve(f"116.15.{i}.1")
            assert r.cached() <= 5

    asyncio.run(main())
    assert r.lookups == 12


def test_the_per_minute_budget_is_kept_and_renewed(dns: CymruDNS) -> None:
    now = [1000.0]
    r = resolver(dns, per_minute=2, clock=lambda: now[0])

    async def main() -> None:
        assert (await r.resolve("116.14.1.1")) is not None
        assert (await r.resolve("116.14.2.1")) is not None
        asked = len(dns.queries)
        assert (await r.resolve("116.14.3.1")) is None  # over budget: no query...
        assert len(dns.queries) == asked
        now[0] += 61
        assert (await r.resolve("116.14.3.1")) is not None  # ...and not cached as a miss

    asyncio.run(main())


@pytest.mark.slow
def test_a_slow_server_never_blocks_the_loop_and_holds_few_threads() -> None:
    with cymru_dns(PREFIXES, delay=2.0) as slow:
        r = WhoisResolver(
            nameservers=["127.0.0.1"], port=slow.port, timeout=0.8, concurrency=2, per_minute=100
        )
        gaps: list[float] = []

        async def ticker(stop: asyncio.Event) -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        async def main() -> list[ASNInfo | None]:
            stop = asyncio.Event()
            tick = asyncio.create_task(ticker(stop))
            results = await asyncio.gather(*(r.resolve(f"116.14.{i}.1") for i in range(6)))
            stop.set()
            await tick
            return results

        results = asyncio.run(main())
        threads = [t for t in threading.enumerate() if t.name.startswith("edgeward-whois")]
        r.close()
    assert results == [None] * 6  # timed out: unknown, not an error
    # A lookup on the loop would stall it for its whole 0.8 s timeout (or the 2 s delay);
    # the bound leaves room for a busy machine's scheduling.
    assert max(gaps) < 0.6, f"the event loop stalled for {max(gaps):.3f}s"
    assert len(threads) <= 2
    # Six lookups, two at a time, 0.8 s each: three rounds. Proven by when the server saw
    # them (lower bounds and a pair, which load cannot fake; a stopwatch's upper bound can
    # fail on a busy machine): never a third query within one timeout of the one two
    # before it, and at least one pair sent together (one at a time would space all by 0.8).
    arrivals = sorted(slow.arrivals)
    assert len(arrivals) == 6
    rounds = [b - a for a, b in zip(arrivals, arrivals[2:], strict=False)]
    assert all(r >= 0.7 for r in rounds), arrivals
    assert min(b - a for a, b in itertools.pairwise(arrivals)) < 0.4, arrivals
    # and the 0.8 s timeout ended each round, not the 2 s answer (1.1 s left for load)
    assert all(r < 1.9 for r in rounds), arrivals


def test_http_is_refused_because_it_sleeps_on_rate_limits() -> None:
    with pytest.raises(ValueError, match="http is refused"):
        WhoisResolver(methods=("dns", "http"))


def test_the_attributor_asks_whois_only_for_public_addresses_the_table_lacks(
    dns: CymruDNS, tmp_path: Path
) -> None:
    table = PrefixTable([("20.0.0.0/8", 8075)])
    path = tmp_path / "e.jsonl"

    async def main() -> None:
        attributor = Attributor(table, resolver(dns), path)
        await attributor.start()
        for client in ("20.1.1.1", "10.0.0.1", "116.14.2.3"):
            attributor.submit(CorruptionEvent(1.0, "edge", "dpi_signature", client, "8001", 0))
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    lines = {e["client"]: e for e in map(json.loads, path.read_text().splitlines())}
    assert lines["20.1.1.1"]["asn"] == 8075
    assert lines["10.0.0.1"]["asn"] is None
    assert lines["116.14.2.3"]["asn"] == 9506
    assert lines["116.14.2.3"]["as_name"] == SINGTEL
    assert lines["116.14.2.3"]["prefix"] == "116.14.0.0/15"
    origins = [q for q in dns.queries if "origin" in q]
    assert origins == ["3.2.14.116.origin.asn.cymru.com."]  # the only one whois saw
