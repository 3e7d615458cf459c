"""Fair slots: the lightest waiter gets a freed slot first; cancelled waiters leak nothing."""

from __future__ import annotations

import asyncio

import pytest

from caldav_gateway.fair_slots import FairSlots


@pytest.mark.parametrize(
    ("weights", "order"),
    [
        ([5, 5, 1, 3], [2, 3, 0, 1]),  # lightest first, ties in arrival order
        ([0, 0, 0], [0, 1, 2]),
        ([9, 1], [1, 0]),
    ],
)
def test_a_freed_slot_goes_to_the_lightest_waiter(weights: list[int], order: list[int]) -> None:
    async def run() -> list[int]:
        slots = FairSlots(1)
        await slots.acquire(lambda: 0)  # the slot is taken
        served: list[int] = []

        async def wait(i: int) -> None:
            await slots.acquire(lambda: weights[i])
            served.append(i)
            slots.release()

        tasks = [asyncio.create_task(wait(i)) for i in range(len(weights))]
        await asyncio.sleep(0)  # all queued
        assert slots.waiting == len(weights)
        slots.release()
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(run()) == order


def test_cancelled_waiters_leak_no_slot() -> None:
    async def run() -> int:
        slots = FairSlots(2)
        await slots.acquire(lambda: 0)
        await slots.acquire(lambda: 0)
        waiters = [asyncio.create_task(slots.acquire(lambda: 1)) for _ in range(3)]
        await asyncio.sleep(0)
        waiters[0].cancel()
        slots.release()  # granted to waiters[1] (waiters[0] is cancelled)
        waiters[1].cancel()  # ...which is cancelled as it is granted: passes it on
        await asyncio.gather(*waiters, return_exceptions=True)
        assert waiters[2].done() and not waiters[2].cancelled()
        slots.release()
        slots.release()
        return slots.free

    assert asyncio.run(run()) == 2


def test_weights_are_read_when_a_slot_frees() -> None:
    """A waiter whose weight grew while it waited (its client started guessing) falls back."""

    async def run() -> list[str]:
        slots = FairSlots(1)
        await slots.acquire(lambda: 0)
        load = {"a": 0, "b": 5}
        served: list[str] = []

        async def wait(name: str) -> None:
            await slots.acquire(lambda: load[name])
            served.append(name)
            slots.release()

        tasks = [asyncio.create_task(wait(n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        load.update(a=9, b=1)
        slots.release()
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(run()) == ["b", "a"]


def test_no_slots_is_refused() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        FairSlots(0)
