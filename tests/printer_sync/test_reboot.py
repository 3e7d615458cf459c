"""Waiting out reboots: short ones are not missed, missing ones are not imagined."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeward.pki import fingerprint
from printer_sync.cli import main
from printer_sync.config import PrinterConfig
from printer_sync.emulator import Emulator, EmulatorThread
from printer_sync.errors import ErrorKind, PushError
from printer_sync.reboot import wait_for_certificate
from tests.support.printers import PASSWORD, PrinterEnv
from tests.support.wait import async_wait_until


def _printer(emu: Emulator) -> PrinterConfig:
    return PrinterConfig(name="p", url=emu.url, key=Path("k"), cert=Path("c"), timeout=2.0)


def test_a_reboot_shorter_than_a_poll_is_seen(tmp_path: Path) -> None:
    emu = Emulator(tmp_path / "e", password=PASSWORD)
    with EmulatorThread([emu]) as thread:

        async def scenario() -> None:
            waiting = asyncio.create_task(
                wait_for_certificate(_printer(emu), expect=None, within=30, said_reboot=True)
            )
            # the waiter holds its connection; now a 20 ms reboot
            await async_wait_until(lambda: emu._http._writers, what="the waiter to connect")
            asyncio.run_coroutine_threadsafe(emu._reboot(0.02), thread.loop).result(5)
            served = await waiting
            assert served.fingerprint == fingerprint(emu.served_certificate())

        started = time.monotonic()
        asyncio.run(scenario())
    assert emu.reboots == 1 and time.monotonic() - started < 20  # seen, not timed out


@pytest.mark.parametrize(
    ("expect", "kind", "fragment"),
    [
        (None, ErrorKind.REBOOT_TIMEOUT, "announced a restart but did not restart"),
        ("AA:" * 31 + "AA", ErrorKind.OLD_CERTIFICATE, "did not take the new certificate"),
    ],
)
def test_no_reboot_is_not_imagined(
    start_emulator: Callable[..., Emulator], expect: str | None, kind: ErrorKind, fragment: str
) -> None:
    emu = start_emulator()
    said_reboot = expect is None  # (with an expected fingerprint: a firmware that applies)
    with pytest.raises(PushError) as exc:
        asyncio.run(
            wait_for_certificate(_printer(emu), expect=expect, within=1.5, said_reboot=said_reboot)
        )
    assert exc.value.kind is kind and fragment in exc.value.message
    assert emu.reboots == 0


def test_force_is_verified_only_after_the_reboot_was_seen(
    printer_env: PrinterEnv,
    start_emulator: Callable[..., Emulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 13, wrong result 3: old and new fingerprints are equal under ``--force``, so
    a handshake before the reboot already "shows" the new one. Verified means the printer
    went down, came back, and then a fresh handshake showed the certificate."""
    emu = start_emulator(reboot_seconds=1.5)
    cfg = printer_env.config([printer_env.printer(url=emu.url)])
    assert main(["push", "office", "--config", str(cfg)]) == 0
    reboots = emu.reboots
    capsys.readouterr()

    assert main(["push", "office", "--force", "--config", str(cfg)]) == 0

    out = capsys.readouterr().out
    assert emu.reboots == reboots + 1 and emu.listening  # back up when push returned
    duration = float(out.split("office: verified (")[1].split(" s)")[0])
    assert duration >= emu.reboot_seconds, out
    assert main(["status", "office", "--config", str(cfg)]) == 0  # not "unreachable"


def test_an_announced_reboot_that_never_comes_is_not_verified(
    start_emulator: Callable[..., Emulator],
) -> None:
    """The printer said "Shutting down" and serves the expected certificate, but never
    went down: that is no proof it applied anything."""
    emu = start_emulator()
    expect = fingerprint(emu.served_certificate())
    with pytest.raises(PushError) as exc:
        asyncio.run(
            wait_for_certificate(_printer(emu), expect=expect, within=1.5, said_reboot=True)
        )
    assert exc.value.kind is ErrorKind.REBOOT_TIMEOUT
    assert "did not restart" in exc.value.message
