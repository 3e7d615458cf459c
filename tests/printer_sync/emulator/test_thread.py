"""EmulatorThread: emulators on their own loop, started on enter and stopped on exit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edgeward.pki import served_certificate
from printer_sync.emulator import Emulator, EmulatorThread
from tests.support.net import refused
from tests.support.printers import PASSWORD


@pytest.mark.parametrize("count", [1, 3])
def test_starts_every_emulator_and_stops_them_on_exit(tmp_path: Path, count: int) -> None:
    emulators = [Emulator(tmp_path / f"s{i}", password=PASSWORD) for i in range(count)]
    with EmulatorThread(emulators) as thread:
        ports = [e.port for e in emulators]
        assert len(set(ports)) == count and all(ports)
        for port in ports:
            cert, _ = served_certificate("127.0.0.1", port)
            assert cert.subject == cert.issuer  # each serves its own self-signed certificate
    assert all(refused(p) for p in ports)
    assert thread.loop.is_closed()


def test_call_runs_on_the_emulators_loop_and_returns_its_value(tmp_path: Path) -> None:
    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    with EmulatorThread([Emulator(tmp_path / "s", password=PASSWORD)]) as thread:
        assert thread.call(where()) is thread.loop


def test_an_error_in_the_block_still_stops_the_emulators(tmp_path: Path) -> None:
    emu = Emulator(tmp_path / "s", password=PASSWORD)
    thread = EmulatorThread([emu])

    def body() -> None:
        with thread:
            raise RuntimeError("test body")

    with pytest.raises(RuntimeError, match="test body"):
        body()
    assert refused(emu.port)
    assert thread.loop.is_closed()
