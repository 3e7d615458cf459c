"""Failed logins cost time per client; anonymous challenges stay immediate.

Radicale's own ``[auth] delay`` sleeps on *every* 401 and 403, including the anonymous
first request every Apple client sends before its credentials, and it blocks a worker
thread while it sleeps. The gateway runs Radicale with ``delay = 0`` and throttles here
instead, only where it matters: a request **carrying credentials** that Radicale answers
401 is a failed login, and so is a malformed ``Authorization`` header (answered 401 here,
see :mod:`caldav_gateway.credentials`). The n-th failure from one client within ``window``
seconds is answered after ``min(base_delay × 2^(n-1), max_delay)`` seconds (an async sleep:
no thread is held); once ``limit`` failures are within the window, further requests with
credentials from that client get 429 with ``Retry-After`` until the oldest of them ages out.
Successes do not reset the count, so a valid account cannot be used to launder guesses
against another.

Parallel guesses are counted **before** they are checked: failures plus requests with
credentials in progress stay below ``limit`` (and in progress below ``max_parallel``), so 16
wrong passwords sent at once against ``limit = 10`` get at most 10 answers of 401 and the
rest 429. At most ``max_checks`` password checks (bcrypt, about 0.25 s of CPU each) run at
once for all clients together, so guesses from many addresses queue instead of starving the
machine; a freed slot goes to the waiting client with the fewest failures and requests in
progress (:mod:`caldav_gateway.fair_slots`), so a real user passes the guessers' queue; a
check's slot is freed when Radicale answers, before any throttle delay.

A client is an IPv4 address or an IPv6 /64 (:func:`edgeward.netaddr.client_bucket`): a host
picks any address of its /64 at will. Threat model: the CalDAV port is exposed directly (no
proxy in front), so the address is the TCP peer (``scope["client"]``); ``X-Forwarded-For`` is
never trusted (uvicorn runs with ``proxy_headers=False``). With ``--workers N`` each worker
keeps its own counts, so an attacker spread over the workers gets at most N times the budget.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caldav_gateway import metrics
from caldav_gateway.credentials import authorization_values, basic_problem
from caldav_gateway.fair_slots import FairSlots
from caldav_gateway.respond import plain
from edgeward.config import not_negative_at_most, positive_at_most, setting, whole_between
from edgeward.logs import get_logger
from edgeward.netaddr import client_bucket

log = get_logger("caldav_gateway.throttle")


@dataclass(frozen=True)
class ThrottleSettings:
    base_delay: float = setting(
        0.5,
        help="seconds the first failed login waits; doubles per failure",
        check=not_negative_at_most(3600.0),
    )
    max_delay: float = setting(
        8.0, help="the longest delay of one answer", check=not_negative_at_most(3600.0)
    )
    limit: int = setting(
        10, help="failed logins within the window before 429", check=whole_between(1, 1_000_000)
    )
    window: float = setting(
        900.0, help="seconds a failed login counts", check=positive_at_most(30 * 86400.0)
    )
    max_clients: int = setting(
        10000,
        help="addresses tracked at most (oldest forgotten first)",
        check=whole_between(1, 10_000_000),
    )
    max_parallel: int = setting(
        16,
        help="requests with credentials one client may have in progress",
        check=whole_between(1, 100_000),
    )
    max_checks: int = setting(
        2,
        help="password checks in progress at once, all clients together (about the CPU cores)",
        check=whole_between(1, 10_000),
    )

    def __post_init__(self) -> None:
        if self.max_delay < self.base_delay:
            raise ValueError("max_delay must be at least base_delay")


class LoginThrottle:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ThrottleSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        realm: str = "CalDAV",
    ) -> None:
        s = settings or ThrottleSettings()
        self.app = app
        self.realm = realm
        self._checks = FairSlots(s.max_checks)
        self.settings = s
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._inflight: dict[str, int] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and times[0] <= now - self.settings.window:
            times.popleft()
        if not times:
            del self._failures[client]
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try credentials again, or ``None`` if it may now.

        Requests still in progress count as possible failures: otherwise guesses sent in
        parallel would all be checked before the first failure is counted.
        """
        now = self.clock()
        times = self._recent(client, now)
        inflight = self._inflight.get(client, 0)
        if len(times) >= self.settings.limit:
            oldest_counted = times[-self.settings.limit]
            return max(1, math.ceil(oldest_counted + self.settings.window - now))
        if inflight >= self.settings.max_parallel or len(times) + inflight >= self.settings.limit:
            return max(1, math.ceil(self.settings.max_delay))
        return None

    def record_failure(self, client: str) -> float:
        """Count a failed login; returns the delay its answer must wait."""
        now = self.clock()
        times = self._recent(client, now)
        if not times:
            self._failures[client] = times
        times.append(now)
        self._failures.move_to_end(client)
        while len(self._failures) > self.settings.max_clients:
            self._failures.popitem(last=False)
        n = len(times)
        return float(min(self.settings.base_delay * 2 ** min(n - 1, 30), self.settings.max_delay))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_credentials(scope):
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else "unknown"
        client = client_bucket(peer)
        wait = self.retry_after(client)
        if wait is not None:
            metrics.THROTTLED.labels("refused").inc()
            log.warning(
                "login refused for %s: too many failed or parallel logins, retry in %ds",
                client,
                wait,
            )
            await plain(send, 429, b"Too Many Requests\n", [(b"retry-after", str(wait).encode())])
            return
        self._inflight[client] = self._inflight.get(client, 0) + 1
        try:
            problem = basic_problem(authorization_values(scope))
            if problem is not None:
                await self._fail(client, f"malformed Authorization ({problem})")
                challenge = f'Basic realm="{self.realm}", charset="UTF-8"'.encode()
                await plain(send, 401, b"Unauthorized\n", [(b"www-authenticate", challenge)])
                return
            await self._checked(scope, receive, send, client)
        finally:
            left = self._inflight[client] - 1
            if left:
                self._inflight[client] = left
            else:
                del self._inflight[client]

    async def _checked(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        """Radicale checks the password in one of the ``max_checks`` slots, freed on its answer;
        a client with fewer failures and requests in progress gets a free slot first."""
        checks = self._checks
        held = False

        def free() -> None:
            nonlocal held
            if held:
                held = False
                checks.release()

        async def send_throttled(message: Message) -> None:
            if message["type"] == "http.response.start":
                free()
                if message["status"] == 401:
                    await self._fail(client, "failed login")
            await send(message)

        await checks.acquire(lambda: self._weight(client))
        held = True
        try:
            await self.app(scope, receive, send_throttled)
        finally:
            free()

    def _weight(self, client: str) -> int:
        """How much ``client`` is already using: failures in the window plus requests in
        progress (a real user weighs 1, an address guessing in parallel 10 or more)."""
        return len(self._recent(client, self.clock())) + self._inflight.get(client, 0)

    async def _fail(self, client: str, what: str) -> None:
        metrics.AUTH_FAILURES.inc()
        delay = self.record_failure(client)
        log.warning("%s from %s: answering after %.1fs", what, client, delay)
        if delay > 0:
            metrics.THROTTLED.labels("delayed").inc()
            await asyncio.sleep(delay)


def _has_credentials(scope: Scope) -> bool:
    return any(k.lower() == b"authorization" for k, _ in scope["headers"])
