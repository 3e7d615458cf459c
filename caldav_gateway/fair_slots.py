"""A fixed number of slots, granted to the lightest waiter first (fair queuing).

The throttle caps the password checks (bcrypt, ~0.25 s of CPU each) running at once. With a
plain FIFO semaphore a real user's request would wait behind every guess already queued
(6 addresses × 10 guesses in flight = 60 checks ahead). Here each waiter brings a weight —
for the throttle, how many failures and requests in progress its client has *now* — and a
freed slot goes to the waiter that weighs least at that moment (ties in arrival order), so
a client that is not guessing passes the guessers' queue. Choosing costs one pass over the
waiters, which the throttle bounds (``limit`` requests in progress per client).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable


class FairSlots:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("slots must be 1 or more")
        self.free = slots
        self._waiting: list[tuple[int, Callable[[], int], asyncio.Future[None]]] = []
        self._arrival = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, granted in self._waiting if not granted.done())

    async def acquire(self, weight: Callable[[], int]) -> None:
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((next(self._arrival), weight, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # granted as the waiter was cancelled: pass the slot on
            raise

    def release(self) -> None:
        self._waiting = [w for w in self._waiting if not w[2].done()]
        if not self._waiting:
            self.free += 1
            return
        lightest = min(self._waiting, key=lambda w: (w[1](), w[0]))
        self._waiting.remove(lightest)
        lightest[2].set_result(None)
