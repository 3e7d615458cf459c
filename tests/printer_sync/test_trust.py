"""Pins: a certificate we pushed ourselves is never a pin change (issue 13, wrong result 2).

The scenario: a printer already on our CA-signed certificate; a renewal's push is
interrupted while the printer reboots (Ctrl-C on ``make run``), so the history row says
``interrupted`` and the pin still names the old fingerprint, while the printer comes back
serving the pushed certificate. Neither ``status`` nor the next renewal may treat that as
a replaced printer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from edgeward.pki import fingerprint, served_certificate
from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.emulator import Emulator
from printer_sync.history import History
from printer_sync.push import push_printer
from tests.support.printers import PrinterEnv, write_leaf

pytestmark = pytest.mark.slow


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _interrupt_during_reboot(printer_env: PrinterEnv, emu: Emulator) -> None:
    """Push the local files and cancel the push once the printer went down for its reboot."""
    config = load_config(printer_env.config([printer_env.printer(url=emu.url)]))
    reboots = emu.reboots

    async def scenario() -> None:
        with History(config.db_path) as history:
            task = asyncio.create_task(
                push_printer(config.printer("office"), history=history, settle=1.0)
            )
            while emu.reboots == reboots:  # the upload was answered and the printer is down
                assert not task.done(), task.result()
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(scenario(), 60))
    _wait(lambda: emu.listening, "the printer to come back")


def test_a_push_interrupted_by_the_reboot_is_not_a_pin_change(
    printer_env: PrinterEnv,
    start_emulator: Callable[..., Emulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = start_emulator(reboot_seconds=1.0)
    cfg = printer_env.config([printer_env.printer(url=emu.url)])
    assert main(["push", "office", "--config", str(cfg)]) == 0
    first = printer_env.files.fingerprint

    renewed = write_leaf(printer_env.tmp / "certs", printer_env.chain)
    _interrupt_during_reboot(printer_env, emu)
    served, _ = served_certificate(emu.host, emu.port)
    assert fingerprint(served) == renewed.fingerprint  # the printer took it nonetheless
    with History(load_config(cfg).db_path) as h:
        row = h.rows("office")[0]
        pin = h.pin("office")
    assert row.result == "interrupted"
    assert pin is not None and pin.fingerprint == first  # not re-pinned: nothing verified

    # status: served = local, but not what is pinned: never a plain "ok".
    capsys.readouterr()
    main(["status", "office", "--json", "--config", str(cfg)])
    (status,) = json.loads(capsys.readouterr().out)
    assert status["match"] is True and status["pin"] == first
    assert status["state"] != "ok"

    # The next renewal: the printer serves a certificate we pushed, so this is no pin change.
    third = write_leaf(printer_env.tmp / "certs", printer_env.chain)
    assert main(["push", "office", "--config", str(cfg)]) == 0, capsys.readouterr()
    with History(load_config(cfg).db_path) as h:
        pin = h.pin("office")
    assert pin is not None and pin.fingerprint == third.fingerprint
    # The interrupted row names what it sent (written before sending), so `history`
    # and the pin check know that certificate as ours.
    with History(load_config(cfg).db_path) as h:
        interrupted = [r for r in h.rows("office") if r.result == "interrupted"]
    assert [r.new_fingerprint for r in interrupted] == [renewed.fingerprint]
