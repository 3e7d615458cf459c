"""Event lines under a flood: rate-limited with a counted remainder, rotated by size."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from middleware.attribution.attributor import Attributor
from middleware.attribution.eventlog import EventLog, RateLimit, RotatingLines
from middleware.attribution.events import CorruptionEvent


def suppressed_total() -> float:
    return REGISTRY.get_sample_value("edgeward_attribution_suppressed_total") or 0.0


def event(n: int, when: float = 1_795_750_515.0) -> CorruptionEvent:
    return CorruptionEvent(when, "edge", "dpi_signature", f"203.0.113.{n % 250}", "8001", n)


def test_a_flood_is_written_up_to_the_burst_and_the_rest_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.jsonl"
    before = suppressed_total()
    log = EventLog(path, rate=1, burst=50, summary_every=3600)
    attributor = Attributor(events_path=path, event_log=log)

    async def flood() -> None:
        await attributor.start()
        for n in range(10_000):
            attributor.submit(event(n))
            if n % 1000 == 999:
                await attributor.drain()
        await attributor.drain()
        await attributor.stop()

    with caplog.at_level(logging.INFO, logger="edgeward.middleware.attribution"):
        asyncio.run(flood())
    written = path.read_text().splitlines()
    assert 50 <= len(written) <= 60  # the burst, plus one a second at most
    assert log.suppressed == 10_000 - len(written)
    assert suppressed_total() - before == log.suppressed
    per_event = [r for r in caplog.records if r.getMessage().startswith("corrupted request")]
    assert len(per_event) == len(written)
    summaries = [
        r.getMessage() for r in caplog.records if "suppressed in the last" in r.getMessage()
    ]
    assert len(summaries) == 1 and f"{log.suppressed} corruption event line(s)" in summaries[0]


def test_the_summary_comes_periodically_under_a_flood(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = EventLog(None, rate=1, burst=1, summary_every=0.0)
    with caplog.at_level(logging.WARNING, logger="edgeward.middleware.attribution"):
        for _ in range(5):
            log.record({"kind": "x"}, "corrupted request")
    assert sum("suppressed in the last" in r.getMessage() for r in caplog.records) >= 3


def test_rotation_keeps_every_file_under_the_cap_and_loses_no_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = RotatingLines(path, max_bytes=4096, keep=3)
    for n in range(200):
        lines.write(json.dumps({"n": n, "pad": "x" * 40}))
    lines.close()
    files = [path, *(tmp_path / f"events.jsonl.{k}" for k in (1, 2, 3))]
    assert all(f.stat().st_size <= 4096 for f in files)
    assert not (tmp_path / "events.jsonl.4").exists()
    kept = [json.loads(x)["n"] for f in reversed(files) for x in f.read_text().splitlines()]
    assert kept == list(range(200 - len(kept), 200)) and len(kept) > 100
    assert lines.rotations >= 3


def test_each_line_is_on_disk_before_the_next_is_written(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = RotatingLines(path, max_bytes=1 << 20, keep=1)
    lines.write('{"n": 1}')
    assert path.read_text() == '{"n": 1}\n'  # flushed, not buffered until close
    lines.close()


def test_a_non_finite_time_never_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    attributor = Attributor(events_path=path)

    async def main() -> None:
        for when in (math.inf, -math.inf, math.nan, 1_795_750_515.0):
            attributor.submit(event(1, when))
        await attributor.start()
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    rows = [json.loads(x, parse_constant=_refuse) for x in path.read_text().splitlines()]
    assert len(rows) == 4 and all(math.isfinite(r["time"]) for r in rows)


def _refuse(name: str) -> object:
    raise AssertionError(f"{name} in the events file")


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (math.nan, 1), (math.inf, 1), (1, 0)])
def test_rate_limit_refuses_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimit(rate, burst)
