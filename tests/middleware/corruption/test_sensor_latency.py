"""A slow whois service must not move the app's request latency (the must-show figure).

Every request below is corrupted and comes from a new /24 the prefix table does not hold,
so each one sends a lookup to ipwhois (its real DNS code path) against the local Team
Cymru look-alike. First the DNS server answers at once, then after 2 s; p99 of the
request latency is compared.
"""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from middleware.attribution.attributor import Attributor
from middleware.attribution.prefix_table import PrefixTable
from middleware.attribution.whois import WhoisResolver
from middleware.corruption.sensor import CorruptionSensorMiddleware
from tests.support.apps import echo
from tests.support.cymru_dns import cymru_dns
from tests.support.servers import uvicorn_server

REQUESTS = 200
PREFIXES = {
    "116.14.0.0/15": (9506, "SG", "apnic", "SINGTEL-FIBRE Singtel Fibre Broadband, SG"),
}


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(len(ordered) * 0.99) - 1]


def measure(client: httpx.Client, url: str, second_octet: int) -> list[float]:
    latencies = []
    for i in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(
            url + "/photos/ab%80%01cd.jpg",
            headers={"x-forwarded-for": f"116.{second_octet}.{i}.1"},
        )
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200
    return latencies


@pytest.mark.slow
def test_request_latency_does_not_move_when_whois_is_slow() -> None:
    with cymru_dns(PREFIXES) as dns:
        resolver = WhoisResolver(
            nameservers=["127.0.0.1"], port=dns.port, timeout=1.0, per_minute=10_000
        )
        attributor = Attributor(PrefixTable([("20.0.0.0/8", 8075)]), resolver, stop_grace=0.5)
        app = CorruptionSensorMiddleware(echo, attributor=attributor)
        with uvicorn_server(app, proxy_headers=False) as url, httpx.Client() as client:
            measure(client, url, 13)  # warm-up (connections, code paths)
            fast = measure(client, url, 14)
            deadline = time.monotonic() + 30
            while (attributor.pending or attributor._busy) and time.monotonic() < deadline:
                time.sleep(0.05)  # let the fast lookups finish before the server slows
            fast_lookups = len(dns.queries)
            dns.delay = 2.0
            slow = measure(client, url, 15)
            slow_asked = len(dns.queries) - fast_lookups
            pending = attributor.pending
        resolver.close()
    p99_fast, p99_slow = p99(fast), p99(slow)
    print(
        f"\nrequest p99 with whois answering at once: {p99_fast * 1000:.2f} ms; "
        f"with whois answering after 2 s: {p99_slow * 1000:.2f} ms "
        f"(ratio {p99_slow / p99_fast:.2f}); medians {statistics.median(fast) * 1000:.2f} vs "
        f"{statistics.median(slow) * 1000:.2f} ms; {slow_asked} slow lookups started, "
        f"{pending} events still queued"
    )
    assert fast_lookups >= 2 * REQUESTS  # every warm-up and fast request reached ipwhois
    assert slow_asked >= 1 and pending > 0  # the slow server really was slow and in use
    # A request that waited for one lookup would take >= 1 s (the lookup timeout), and a
    # blocked loop would delay the next requests as much; the margin is for a busy machine.
    assert p99_slow < max(2 * p99_fast, p99_fast + 0.25)
    assert statistics.median(slow) < statistics.median(fast) + 0.05
