"""Attributor: bounded queue, background resolution, metrics, JSONL, a million clients."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from middleware.attribution.attributor import Attributor
from middleware.attribution.events import CorruptionEvent
from middleware.attribution.labels import AsnLabels
from middleware.attribution.prefix_table import PrefixTable

TABLE = PrefixTable(
    [("116.14.0.0/15", 9506), ("20.0.0.0/8", 8075), ("2406:3000::/32", 9506)],
    {9506: "SINGTEL-FIBRE Singtel Fibre Broadband", 8075: "MICROSOFT-CORP-MSN-AS-BLOCK"},
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def event(client: str, kind: str = "dpi_signature", source: str = "asgi") -> CorruptionEvent:
    return CorruptionEvent(1795750000.5, source, kind, client, "2f61800162", 2, "path")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("client", "asn", "as_name", "prefix", "label"),
    [
        ("116.14.2.3", 9506, "SINGTEL-FIBRE Singtel Fibre Broadband", "116.14.0.0/15", "9506"),
        (
            "::ffff:116.14.2.3",
            9506,
            "SINGTEL-FIBRE Singtel Fibre Broadband",
            "116.14.0.0/15",
            "9506",
        ),
        ("2406:3000::1", 9506, "SINGTEL-FIBRE Singtel Fibre Broadband", "2406:3000::/32", "9506"),
        ("8.8.8.8", None, "", "", "unknown"),  # public but not in the table, no resolver
        ("10.1.2.3", None, "", "", "unknown"),  # private: no lookup at all
        ("127.0.0.1", None, "", "", "unknown"),
        ("", None, "", "", "unknown"),
        ("garbage", None, "", "", "unknown"),
    ],
)
def test_each_event_is_one_json_line_and_one_count(
    tmp_path: Path, client: str, asn: int | None, as_name: str, prefix: str, label: str
) -> None:
    path = tmp_path / "events" / "corruption.jsonl"
    kind = f"test_{abs(hash(client)) % 10_000}"  # a fresh series per case

    async def main() -> None:
        attributor = Attributor(TABLE, events_path=path)
        await attributor.start()
        assert attributor.submit(event(client, kind))
        await attributor.drain()
        # flushed at once: readable before stop()
        assert len(path.read_text().splitlines()) == 1
        await attributor.stop()

    asyncio.run(main())
    (line,) = path.read_text().splitlines()
    assert json.loads(line) == {
        "time": 1795750000.5,
        "source": "asgi",
        "kind": kind,
        "client": client,
        "asn": asn,
        "as_name": as_name,
        "prefix": prefix,
        "evidence_hex": "2f61800162",
        "offset": 2,
        "detail": "path",
    }
    assert sample("edgeward_corruption_events_total", kind=kind, source="asgi", asn=label) == 1


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    attributor = Attributor(TABLE, queue_size=3)
    before = sample("edgeward_attribution_dropped_total")
    # No loop is running: nothing drains the queue.
    results = [attributor.submit(event("116.14.0.1")) for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert attributor.dropped == 2 and attributor.pending == 3
    assert sample("edgeward_attribution_dropped_total") == before + 2

    async def main() -> None:  # the queued ones are resolved once started
        await attributor.start()
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    assert attributor.processed == 3 and attributor.pending == 0


def test_submit_inside_a_loop_starts_the_workers_lazily(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"

    async def main() -> None:
        attributor = Attributor(TABLE, events_path=path)
        attributor.submit(event("20.1.2.3"))  # no start(): no lifespan in this app
        await attributor.drain(within=5)
        await attributor.stop()

    asyncio.run(main())
    assert json.loads(path.read_text())["asn"] == 8075


def test_submit_from_another_thread_wakes_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"

    async def main() -> None:
        attributor = Attributor(TABLE, events_path=path)
        await attributor.start()
        await asyncio.sleep(0.05)  # workers idle, waiting
        thread = threading.Thread(
            target=lambda: [attributor.submit(event(f"116.14.0.{i}")) for i in range(10)]
        )
        thread.start()
        thread.join()
        await attributor.drain(within=5)
        await attributor.stop()

    asyncio.run(main())
    assert len(path.read_text().splitlines()) == 10


def test_stop_resolves_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"

    async def main() -> None:
        attributor = Attributor(TABLE, events_path=path)
        await attributor.start()
        for i in range(50):
            attributor.submit(event(f"116.14.1.{i}"))
        await attributor.stop()  # no drain(): stop finishes the queue first

    asyncio.run(main())
    assert len(path.read_text().splitlines()) == 50


def test_an_unwritable_events_file_loses_the_line_not_the_count(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    kind = "test_unwritable"

    async def main() -> None:
        attributor = Attributor(TABLE, events_path=tmp_path / "dir")  # a directory
        attributor.submit(event("116.14.0.1", kind))
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    assert sample("edgeward_corruption_events_total", kind=kind, source="asgi", asn="9506") == 1


def test_requests_are_counted_by_asn_from_the_table() -> None:
    attributor = Attributor(TABLE, top_n=5)
    before = {a: sample("edgeward_requests_by_asn_total", asn=a) for a in ("9506", "unknown")}
    for _ in range(200):
        attributor.count_request("116.14.3.4")
    attributor.count_request("192.168.1.1")
    attributor.count_request("not an address")
    after = {a: sample("edgeward_requests_by_asn_total", asn=a) for a in ("9506", "unknown")}
    assert after["unknown"] - before["unknown"] == 2
    # before the first ranking (warm-up) requests count as other; every one after as 9506
    assert 200 - 64 <= after["9506"] - before["9506"] <= 200


@pytest.mark.parametrize("kwargs", [{"queue_size": 0}, {"workers": 0}])
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=">= 1"):
        Attributor(**kwargs)  # type: ignore[arg-type]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def synthetic_table(networks: int, seed: int) -> PrefixTable:
    rng = random.Random(seed)
    prefixes = []
    for i in range(networks):
        base = rng.randrange(1 << 8, 223 << 8) << 16  # a public-looking /16 per network
        prefixes.append((str(ipaddress.IPv4Network((base, 16))), 64512 + i))
    return PrefixTable(prefixes)


@pytest.mark.slow
def test_a_million_distinct_clients_keep_memory_and_labels_bounded(tmp_path: Path) -> None:
    table = synthetic_table(600, seed=1)
    attributor = Attributor(table, events_path=tmp_path / "e.jsonl", queue_size=100, top_n=10)
    starts = table._v4_start  # sample addresses inside and outside the table
    rng = random.Random(2)

    async def main() -> tuple[int, int, float]:
        await attributor.start()
        rss_warm = 0
        started = time.perf_counter()
        for chunk in range(100):
            # 10,000 distinct addresses per chunk, each seen once: 1,000,000 in all
            for j in range(10_000):
                n = chunk * 10_000 + j
                base = starts[n % len(starts)] if n % 4 else rng.randrange(1 << 24, 223 << 24)
                client = f"{base >> 24}.{(base >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
                attributor.count_request(client)
                if j % 50 == 0:
                    attributor.submit(event(client))  # 20,000 events, many dropped
            await asyncio.sleep(0)  # let the workers take some
            if chunk == 9:
                rss_warm = _rss_bytes()
        elapsed = time.perf_counter() - started
        await attributor.stop(grace=10)
        return rss_warm, _rss_bytes(), elapsed

    rss_warm, rss_end, elapsed = asyncio.run(main())
    growth = rss_end - rss_warm
    assert growth < 16 * 1024 * 1024, f"memory grew by {growth / 1e6:.1f} MB"
    assert attributor.pending == 0
    assert attributor.processed + attributor.dropped == 20_000
    assert attributor.dropped > 0  # the queue stayed bounded
    assert len(attributor.labels.values()) <= attributor.labels.max_values == 10 + 10 + 2
    assert len(attributor._request_children) <= attributor.labels.max_values
    assert attributor.labels.tracked() <= 200_000
    assert len(attributor._client_asn) <= 4096  # the client → ASN cache is capped too
    print(f"1M clients in {elapsed:.1f}s, RSS +{growth / 1e6:.1f} MB after warm-up")


CRASH = """
import asyncio, os, sys
from middleware.attribution.attributor import Attributor
from middleware.attribution.events import CorruptionEvent
from middleware.attribution.prefix_table import PrefixTable

async def main():
    attributor = Attributor(PrefixTable([("116.14.0.0/15", 9506)]), events_path=sys.argv[1])
    for i in range(3):
        attributor.submit(CorruptionEvent(1.0, "edge", "dpi_signature", f"116.14.0.{i}", "8001", 0))
    await attributor.drain()
    os._exit(9)  # a crash: no stop(), no close, no interpreter clean-up

asyncio.run(main())
"""


def test_a_crash_loses_no_event_already_attributed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-c", CRASH, str(path)], timeout=60, check=False)
    assert done.returncode == 9
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["client"] for e in lines] == ["116.14.0.0", "116.14.0.1", "116.14.0.2"]
    assert {e["asn"] for e in lines} == {9506}


# --- count_request's cache of final labels ------------------------------------------------

_CACHE_TABLE = PrefixTable([(f"30.{i}.0.0/16", 65000 + i) for i in range(6)])
_CLIENTS = [f"30.{i % 6}.0.{i}" for i in range(12)] + ["10.0.0.1", "garbage"]
_LABELS = [str(65000 + i) for i in range(6)] + ["other", "unknown"]


def _requests_by_label() -> dict[str, float]:
    return {label: sample("edgeward_requests_by_asn_total", asn=label) for label in _LABELS}


@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["request"] * 5 + ["event"]), st.integers(0, len(_CLIENTS) - 1)),
        max_size=80,
    ),
    top_n=st.integers(0, 3),
    event_slots=st.integers(0, 2),
)
@settings(max_examples=150, deadline=None)
def test_remembered_labels_count_exactly_what_the_label_policy_says(
    ops: list[tuple[str, int]], top_n: int, event_slots: int
) -> None:
    """count_request remembers a client's series once its label is final (admitted,
    unknown, or other when no volume slot is left) and forgets them all when an event
    admits an AS number: every request still lands in the series that the label policy,
    asked for every request, would give it (a small warm-up, so labels change often)."""
    attributor = Attributor(_CACHE_TABLE)
    attributor.labels = AsnLabels(top_n, event_slots=event_slots, warmup=3, rerank_every=4)
    model = AsnLabels(top_n, event_slots=event_slots, warmup=3, rerank_every=4)
    expected = dict.fromkeys(_LABELS, 0)
    before = _requests_by_label()

    async def main() -> None:
        for op, index in ops:
            client = _CLIENTS[index]
            asn = _CACHE_TABLE.lookup_asn(client)
            if op == "request":
                attributor.count_request(client)
                expected[model.request(asn)] += 1
            else:
                await attributor._record(event(client, kind="test_cache"))
                model.event(asn)

    asyncio.run(main())
    after = _requests_by_label()
    assert {label: after[label] - before[label] for label in _LABELS} == expected
