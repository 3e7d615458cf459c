"""Failed-login throttling: immediate anonymous challenges, growing delays, then 429."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from caldav_gateway.throttle import LoginThrottle, ThrottleSettings
from edgeward.config import ConfigError, load_mapping
from tests.support.gateway import running_gateway
from tests.support.wait import async_wait_until


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


def test_requests_in_progress_count_before_they_are_checked() -> None:
    throttle, _ = _throttle(limit=3, max_parallel=4, max_delay=2.0)
    throttle._inflight["a"] = 2
    assert throttle.retry_after("a") is None  # 0 failures + 2 in progress: below the limit
    throttle._inflight["a"] = 3
    assert throttle.retry_after("a") == 2  # 3 in progress could all be failures
    throttle._inflight["a"] = 2
    throttle.record_failure("a")
    assert throttle.retry_after("a") == 2  # 1 failure + 2 in progress reach the limit
    throttle = _throttle(limit=10, max_parallel=4, max_delay=2.0)[0]
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


class _Radicale401:
    """Stands in for Radicale's password check: answers 401 after ``check`` seconds, and
    records how many checks ran at once."""

    def __init__(self, check: float) -> None:
        self.check = check
        self.running = 0
        self.most = 0
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(self.check)
        self.running -= 1
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _request(app: LoginThrottle, client: str) -> int:
    scope = {
        "type": "http",
        "method": "PROPFIND",
        "path": "/",
        "headers": [(b"authorization", b"Basic " + base64.b64encode(b"alice:wrong"))],
        "client": (client, 40000),
    }
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


@pytest.mark.parametrize(
    ("clients", "locked_out"),
    [
        # IPv6: every address of one /64 is one client; the next /64 is another
        ([f"2001:db8:0:1::{i:x}" for i in range(1, 13)], True),
        ([f"2001:db8:0:1:{i:x}::1" for i in range(1, 13)], True),
        ([f"2001:db8:0:{i:x}::1" for i in range(1, 13)], False),
        # IPv4: per address
        ([f"192.0.2.{i}" for i in range(1, 13)], False),
        (["192.0.2.1"] * 12, True),
        (["::ffff:192.0.2.1", "192.0.2.1"] * 6, True),
    ],
)
def test_clients_are_ipv4_addresses_and_ipv6_slash_64s(
    clients: list[str], locked_out: bool
) -> None:
    async def run() -> list[int]:
        radicale = _Radicale401(0.0)
        throttle = LoginThrottle(radicale, settings=ThrottleSettings(base_delay=0, max_delay=0))
        return [await _request(throttle, c) for c in clients]

    statuses = asyncio.run(run())
    # limit 10: the 11th and 12th failure of one client are refused before any check
    assert statuses == [401] * 10 + [429] * 2 if locked_out else statuses == [401] * 12


@pytest.mark.parametrize("max_checks", [1, 3])
def test_password_checks_are_capped_for_all_clients_together(max_checks: int) -> None:
    async def run() -> _Radicale401:
        radicale = _Radicale401(0.05)
        throttle = LoginThrottle(
            radicale,
            settings=ThrottleSettings(base_delay=0.2, max_delay=0.2, max_checks=max_checks),
        )
        clients = [f"198.51.100.{i}" for i in range(12)]
        assert await asyncio.gather(*(_request(throttle, c) for c in clients)) == [401] * 12
        return radicale

    radicale = asyncio.run(run())
    assert radicale.most == max_checks  # the delays after a 401 hold no slot


def test_parallel_guesses_are_counted_before_they_are_checked() -> None:
    """The README: requests in progress count, so parallel guessing gains nothing —
    16 wrong passwords at once against the default limit of 10 (max_parallel 16)."""

    async def run() -> tuple[list[int], int]:
        radicale = _Radicale401(0.05)
        throttle = LoginThrottle(radicale, settings=ThrottleSettings())
        statuses = await asyncio.gather(*(_request(throttle, "192.0.2.9") for _ in range(16)))
        return list(statuses), radicale.calls

    statuses, checks = asyncio.run(run())
    assert statuses.count(401) == 10 and statuses.count(429) == 6
    assert checks == 10


def test_readme_states_the_throttle_defaults() -> None:
    """The defaults the README's table promises are the schema's."""
    readme = (Path(__file__).parents[2] / "caldav_gateway" / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `[throttle]`"))
    keys_cell, defaults_cell = row.split("|")[1:3]
    keys = re.findall(r"`(\w+)`", keys_cell)  # `[throttle]` itself has brackets
    shown = dict(zip(keys, (v.strip() for v in defaults_cell.split(",")), strict=True))
    s = ThrottleSettings()
    for key, value in shown.items():
        default = getattr(s, key)
        assert value == (f"{default:g} s" if isinstance(default, float) else str(default)), key
    assert set(keys) == {f.name for f in dataclasses.fields(ThrottleSettings)}
    assert "IPv6 /64" in readme


@pytest.mark.slow
def test_sixteen_parallel_wrong_passwords_against_the_real_gateway(tmp_path: Path) -> None:
    """Issue 11: 16 wrong passwords sent at once all got 401 with the default settings."""
    config = tmp_path / "gateway.toml"
    config.write_text("[throttle]\nbase_delay = 0.5\nmax_delay = 1.0\n")
    with running_gateway(tmp_path / "gw", ["--config", str(config)]) as gw:
        ctx = gw.ssl_context()
        barrier = threading.Barrier(16)

        def guess(i: int) -> int:
            with httpx.Client(verify=ctx, timeout=60) as c:
                c.get(gw.url + "/.well-known/caldav")  # connection and handshake first
                barrier.wait()
                r = c.request("PROPFIND", gw.url + "/", auth=("alice", f"guess-{i}"))
                return r.status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(guess, range(16)))
        assert statuses.count(401) <= 10, statuses
        assert statuses.count(429) >= 6, statuses
        metrics = httpx.get(gw.metrics_url).text
        m = re.search(r"^edgeward_caldav_auth_failures_total (\S+)$", metrics, re.M)
        assert m is not None and float(m.group(1)) <= 10.0


def test_a_real_user_passes_the_guessers_queue() -> None:
    """Issue 11: 6 addresses x 12 wrong passwords raised a real user's latency from 0.34 s
    to 4.33 s. With one check at a time, the user's request is the next one checked."""

    class Recorder(_Radicale401):
        def __init__(self) -> None:
            super().__init__(0.02)
            self.order: list[str] = []

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            self.order.append(scope["client"][0])
            await super().__call__(scope, receive, send)

    async def run() -> list[str]:
        radicale = Recorder()
        throttle = LoginThrottle(
            radicale, settings=ThrottleSettings(base_delay=0, max_delay=0, max_checks=1)
        )
        guesses = [
            asyncio.create_task(_request(throttle, f"198.51.100.{i % 6}")) for i in range(72)
        ]
        # every guess is queued, refused or done; one holds the single slot
        await async_wait_until(
            lambda: throttle._checks.waiting + sum(g.done() for g in guesses) == len(guesses) - 1,
            what="the guesses to queue",
        )
        user = asyncio.create_task(_request(throttle, "192.0.2.200"))
        await asyncio.gather(user, *guesses)
        return radicale.order

    order = asyncio.run(run())
    assert order.index("192.0.2.200") <= 2, order
    assert len(order) == 61  # 6 x 10 guesses checked, the other 12 refused unchecked
