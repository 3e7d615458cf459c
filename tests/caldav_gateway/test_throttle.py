"""Failed-login throttling: immediate anonymous challenges, growing delays, then 429."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from caldav_gateway.throttle import LoginThrottle, ThrottleSettings
from edgeward.config import ConfigError, load_mapping
from tests.caldav_gateway.conftest import running_gateway


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("not called")


def _throttle(**kw: float) -> tuple[LoginThrottle, FakeClock]:
    clock = FakeClock()
    settings = ThrottleSettings(**kw)  # type: ignore[arg-type]
    return LoginThrottle(_app, settings=settings, clock=clock), clock


@pytest.mark.parametrize(
    ("base", "cap", "expected"),
    [
        (0.5, 8.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]),
        (0.0, 0.0, [0.0] * 6),
        (1.0, 3.0, [1.0, 2.0, 3.0, 3.0, 3.0, 3.0]),
    ],
)
def test_delays_grow_per_failure(base: float, cap: float, expected: list[float]) -> None:
    throttle, _ = _throttle(base_delay=base, max_delay=cap, limit=100)
    assert [throttle.record_failure("192.0.2.1") for _ in expected] == expected
    # another address starts from the beginning
    assert throttle.record_failure("192.0.2.2") == expected[0]


def test_lockout_and_its_end() -> None:
    throttle, clock = _throttle(limit=3, window=60.0)
    for _ in range(2):
        throttle.record_failure("a")
        clock.now += 10
    assert throttle.retry_after("a") is None
    throttle.record_failure("a")  # failures at 1000, 1010, 1020
    assert throttle.retry_after("a") == 40  # until the first ages out at 1060
    clock.now = 1059.5
    assert throttle.retry_after("a") == 1
    clock.now = 1060.0
    assert throttle.retry_after("a") is None
    assert throttle.retry_after("b") is None


def test_tracked_addresses_are_bounded() -> None:
    throttle, _ = _throttle(max_clients=3)
    for i in range(10):
        throttle.record_failure(f"198.51.100.{i}")
    assert len(throttle._failures) == 3


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"base_delay": -1.0}, "base_delay"),
        ({"limit": 0}, "limit"),
        ({"window": 0.0}, "window"),
        ({"base_delay": 2.0, "max_delay": 1.0}, "max_delay must be at least base_delay"),
    ],
)
def test_bad_settings_are_refused(bad: dict[str, float], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_mapping(ThrottleSettings, bad, source="gateway.toml")


@pytest.mark.slow
def test_throttling_against_the_real_gateway(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[throttle]\nbase_delay = 1.0\nmax_delay = 2.0\nlimit = 3\nwindow = 30\n")
    with running_gateway(tmp_path / "gw", ["--config", str(config)]) as gw:
        with httpx.Client(base_url=gw.url, verify=gw.ssl_context(), timeout=10) as c:

            def timed(path: str, auth: tuple[str, str] | None) -> tuple[httpx.Response, float]:
                t = time.monotonic()
                r = c.request("PROPFIND", path, auth=auth, headers={"Depth": "0"})
                return r, time.monotonic() - t

            # the anonymous challenge is immediate: below the first throttle delay (and
            # Radicale's own 1 s default delay is off); the bound leaves room for a busy machine
            r, took = timed("/", None)
            assert r.status_code == 401 and took < 0.9
            delays = []
            for _ in range(3):
                r, took = timed("/", ("alice", "wrong"))
                assert r.status_code == 401
                delays.append(took)
            assert delays[0] >= 1.0 and delays[1] >= 2.0 and delays[2] >= 2.0
            r, took = timed("/", ("alice", "wrong"))
            assert r.status_code == 429 and took < 0.9
            assert 1 <= int(r.headers["retry-after"]) <= 30
            # locked per address: even the right password waits
            r, _ = timed("/alice/", ("alice", gw.users["alice"]))
            assert r.status_code == 429
            # anonymous challenges and probe paths stay as they were
            r, took = timed("/", None)
            assert r.status_code == 401 and took < 0.9
            r, _ = timed("/principals/", ("alice", "wrong"))
            assert r.status_code == 404 and "www-authenticate" not in r.headers

        metrics = httpx.get(gw.metrics_url).text
        assert re.search(r"^edgeward_caldav_auth_failures_total 3\.0$", metrics, re.M)
        assert 'edgeward_caldav_throttled_total{action="refused"} 2.0' in metrics
        assert 'edgeward_caldav_throttled_total{action="delayed"} 3.0' in metrics
        assert "failed login from 127.0.0.1" in gw.log_text()


def test_requests_in_progress_count_once_an_address_has_failed() -> None:
    throttle, _ = _throttle(limit=3, max_parallel=4, max_delay=2.0)
    throttle._inflight["a"] = 2
    assert throttle.retry_after("a") is None  # no failure yet: parallel requests are fine
    throttle.record_failure("a")
    assert throttle.retry_after("a") == 2  # 1 failure + 2 in progress reach the limit
    throttle._inflight["b"] = 4
    assert throttle.retry_after("b") == 2  # max_parallel, failures or not
    throttle._inflight["b"] = 3
    assert throttle.retry_after("b") is None


@pytest.mark.slow
def test_parallel_guessing_gets_no_more_attempts(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[throttle]\nbase_delay = 0.5\nmax_delay = 1.0\nlimit = 3\nwindow = 30\n")
    with running_gateway(tmp_path / "gw", ["--config", str(config)]) as gw:
        ctx = gw.ssl_context()

        def guess(i: int) -> int:
            r = httpx.request("PROPFIND", gw.url + "/", auth=("alice", f"guess-{i}"), verify=ctx)
            return r.status_code

        assert guess(0) == 401  # the address has failed once
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(guess, range(1, 9)))
        assert statuses.count(401) <= 2  # 1 failure + at most 2 in progress = limit
        assert statuses.count(429) >= 6
        metrics = httpx.get(gw.metrics_url).text
        m = re.search(r"^edgeward_caldav_auth_failures_total (\S+)$", metrics, re.M)
        assert m is not None and float(m.group(1)) <= 3.0
