"""Emulators on a background event loop, for tests and benchmarks that drive them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from printer_sync.emulator.device import Emulator

T = TypeVar("T")


class EmulatorThread:
    """``with EmulatorThread([emu, ...]):`` starts them on their own loop, stops them after."""

    def __init__(self, emulators: list[Emulator]) -> None:
        self.emulators = emulators
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> EmulatorThread:
        self._thread.start()

        async def start_all() -> None:
            await asyncio.gather(*(e.start() for e in self.emulators))

        self.call(start_all())
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        async def stop_all() -> None:
            await asyncio.gather(*(e.stop() for e in self.emulators))

        try:
            self.call(stop_all(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
