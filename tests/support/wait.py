"""Waiting for a condition, never for a time: the suite runs on busy machines.

A test that sleeps a fixed time and then looks guesses how fast the machine is; on two
cores shared with other test runs that guess fails. :func:`wait_until` polls a condition
until it holds or a generous deadline passes, and then says what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Generous on purpose: a deadline only matters when something is broken, and a loaded
# machine can be ten times slower than an idle one.
DEFAULT_TIMEOUT = 60.0


def wait_until(
    condition: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
    *,
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` until it returns a true value, and return that value.

    Raises ``AssertionError`` naming ``what`` once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


async def async_wait_until(
    condition: Callable[[], T],
    within: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
    *,
    interval: float = 0.01,
) -> T:
    """:func:`wait_until` inside an event loop: yields to the loop between polls
    (``within`` is its ``timeout``)."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(interval)
