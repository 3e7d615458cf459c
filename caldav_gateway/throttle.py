"""Failed logins cost time per client address; anonymous challenges stay immediate.

Radicale's own ``[auth] delay`` sleeps on *every* 401 and 403, including the anonymous
first request every Apple client sends before its credentials, and it blocks a worker
thread while it sleeps. The gateway runs Radicale with ``delay = 0`` and throttles here
instead, only where it matters: a request **carrying credentials** that Radicale answers
401 is a failed login. The n-th failure from one address within ``window`` seconds is
answered after ``min(base_delay × 2^(n-1), max_delay)`` seconds (an async sleep: no thread
is held); once ``limit`` failures are within the window, further requests with
credentials from that address get 429 with ``Retry-After`` until the oldest of them ages
out. Successes do not reset the count, so a valid account cannot be used to launder
guesses against another. Requests in progress count too (see :meth:`LoginThrottle.retry_after`):
at most ``max_parallel`` requests with credentials per address at once, and once an address
has failed, failures plus requests in progress stay below ``limit``, so parallel guessing buys
no more attempts than sequential guessing.

Threat model: the CalDAV port is exposed directly (no proxy in front), so the client
address is the TCP peer (``scope["client"]``); ``X-Forwarded-For`` is never trusted
(uvicorn runs with ``proxy_headers=False``). With ``--workers N`` each worker keeps its
own counts, so an attacker spread over the workers gets at most N times the budget.
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
from edgeward.config import setting
from edgeward.logs import get_logger

log = get_logger("caldav_gateway.throttle")


def _positive(value: float) -> None:
    if value <= 0:
        raise ValueError(f"expected a number above 0, got {value}")


def _not_negative(value: float) -> None:
    if value < 0:
        raise ValueError(f"expected a number of 0 or more, got {value}")


@dataclass(frozen=True)
class ThrottleSettings:
    base_delay: float = setting(
        0.5, help="seconds the first failed login waits; doubles per failure", check=_not_negative
    )
    max_delay: float = setting(8.0, help="the longest delay of one answer", check=_not_negative)
    limit: int = setting(10, help="failed logins within the window before 429", check=_positive)
    window: float = setting(900.0, help="seconds a failed login counts", check=_positive)
    max_clients: int = setting(
        10000, help="addresses tracked at most (oldest forgotten first)", check=_positive
    )
    max_parallel: int = setting(
        16, help="requests with credentials one address may have in progress", check=_positive
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
    ) -> None:
        s = settings or ThrottleSettings()
        self.app = app
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

        Requests still in progress count as possible failures once the address has failed
        before (and always beyond ``max_parallel``): otherwise guesses sent in parallel would
        all be checked before the first failure is counted.
        """
        now = self.clock()
        times = self._recent(client, now)
        inflight = self._inflight.get(client, 0)
        if len(times) >= self.settings.limit:
            oldest_counted = times[-self.settings.limit]
            return max(1, math.ceil(oldest_counted + self.settings.window - now))
        if inflight >= self.settings.max_parallel or (
            times and len(times) + inflight >= self.settings.limit
        ):
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
        client = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.retry_after(client)
        if wait is not None:
            metrics.THROTTLED.labels("refused").inc()
            log.warning(
                "login refused for %s: too many failed or parallel logins, retry in %ds",
                client,
                wait,
            )
            body = b"Too Many Requests\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"retry-after", str(wait).encode()),
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_throttled(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                metrics.AUTH_FAILURES.inc()
                delay = self.record_failure(client)
                log.warning("failed login from %s: answering after %.1fs", client, delay)
                if delay > 0:
                    metrics.THROTTLED.labels("delayed").inc()
                    await asyncio.sleep(delay)
            await send(message)

        self._inflight[client] = self._inflight.get(client, 0) + 1
        try:
            await self.app(scope, receive, send_throttled)
        finally:
            left = self._inflight[client] - 1
            if left:
                self._inflight[client] = left
            else:
                del self._inflight[client]


def _has_credentials(scope: Scope) -> bool:
    return any(k.lower() == b"authorization" for k, _ in scope["headers"])
