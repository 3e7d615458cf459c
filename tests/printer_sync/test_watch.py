"""The watcher (``printer_sync/watch.py``): which printers a change wakes, checks that push on a
mismatch, unreachable back-off, pins left by an interrupted push."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeward.pki import fingerprint
from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.emulator import Emulator
from printer_sync.history import History
from printer_sync.status import State
from printer_sync.watch import Watcher, affected, files_of, folders_to_watch
from tests.support.net import free_port
from tests.support.printers import PrinterEnv, results, served_fp


def test_unreachable_printer_sets_gauges_and_pushes_nothing(
    printer_env: PrinterEnv, tmp_path: Path
) -> None:
    from printer_sync import metrics

    cfg = load_config(
        printer_env.config(
            [printer_env.printer(name="gone", url=f"https://127.0.0.1:{free_port()}")]
        )
    )

    async def check() -> object:
        with History(tmp_path / "h.db") as h:
            return await Watcher(cfg, h).check(cfg.printers[0])

    assert asyncio.run(check()) is None
    assert metrics.REACHABLE.labels("gone")._value.get() == 0
    assert metrics.IN_SYNC.labels("gone")._value.get() == 0
    assert metrics.LAST_CHECK.labels("gone")._value.get() > time.time() - 60
    assert printer_env.emulator.logins == 0


def test_a_change_wakes_only_the_printers_with_files_in_that_folder(tmp_path: Path) -> None:
    live, archive, other = tmp_path / "live/a", tmp_path / "archive/a", tmp_path / "b"
    for d in (live, archive, other):
        d.mkdir(parents=True)
    (archive / "cert1.pem").write_text("x")
    (live / "cert.pem").symlink_to(archive / "cert1.pem")
    cfg = load_config(
        _two_printers(
            tmp_path, (live / "privkey.pem", live / "cert.pem"), (other / "k", other / "c")
        )
    )
    by_file = files_of(cfg.printers)
    cases = [
        ([str(live / "cert.pem")], {"a"}),  # certbot relinks live/ after writing archive/
        ([str(archive / "cert1.pem")], {"a"}),  # the current target, rewritten in place
        ([str(archive / "cert2.pem")], set()),  # not used until live/ points at it
        ([str(live / ".." / "a" / "privkey.pem")], {"a"}),
        ([str(other / "c")], {"b"}),
        ([str(other / "c"), str(live / "privkey.pem")], {"a", "b"}),
        ([str(other / "c.swp"), str(other / "notes.txt")], set()),  # neighbours wake nobody
        ([str(tmp_path / "elsewhere" / "c")], set()),
    ]
    for changed, names in cases:
        assert affected(by_file, changed) == names, changed
    existing, missing = folders_to_watch(cfg.printers)
    assert existing == sorted(str(d) for d in (archive, live, other))
    assert missing == []


def _two_printers(tmp: Path, a: tuple[Path, Path], b: tuple[Path, Path]) -> Path:
    from tests.support.printers import write_config

    return write_config(
        tmp / "p.toml",
        [
            {"name": "a", "url": "https://127.0.0.1:1", "key": a[0], "cert": a[1]},
            {"name": "b", "url": "https://127.0.0.1:2", "key": b[0], "cert": b[1]},
        ],
        state_dir=tmp / "state",
    )


def test_check_pushes_on_mismatch_then_leaves_a_printer_in_sync_alone_until_a_ca_is_added(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    # "setup-complete" firmware applies without a reboot: the four checks follow each other
    # without waiting on downtime.
    emu = start_emulator(firmware="setup-complete")
    plain = load_config(printer_env.config([printer_env.printer(url=emu.url)]))
    root = tmp_path / "root.pem"
    root.write_bytes(printer_env.chain.root.cert_pem())
    with_ca = load_config(printer_env.config([printer_env.printer(url=emu.url, ca_certs=[root])]))

    async def checks() -> list[str | None]:
        out: list[str | None] = []
        with History(plain.db_path) as h:
            for cfg in (plain, plain, with_ca, with_ca):
                result = await Watcher(cfg, h).check(cfg.printers[0])
                out.append(None if result is None else result.result_label)
        return out

    assert asyncio.run(checks()) == ["verified", None, "verified", None]
    assert results(plain.db_path) == ["verified", "verified"]
    assert emu.ca_imports == 1
    assert [fingerprint(c) for c in emu.ca_store()] == [printer_env.chain.root.fingerprint]
    assert served_fp(emu) == printer_env.files.fingerprint


@pytest.mark.parametrize(
    ("interval", "delays"),
    [
        (3600.0, [5, 10, 20, 40, 80]),
        (30.0, [5, 10, 20, None, None]),  # then only the schedule (every 30 s) retries
        (4.0, [None, None]),
    ],
)
def test_unreachable_retry_backoff(
    printer_env: PrinterEnv, interval: float, delays: list[float | None]
) -> None:
    cfg = load_config(printer_env.config(check_interval=interval))

    async def plan() -> list[float | None]:
        loop = asyncio.get_running_loop()
        with History(cfg.db_path) as h:
            w = Watcher(cfg, h)
            out: list[float | None] = []
            for _ in delays:
                w.states["office"] = State.UNREACHABLE
                w._plan_retry("office")
                timer = w._retry_timer.get("office")
                out.append(None if timer is None else round(timer.when() - loop.time()))
            w.states["office"] = State.OK  # reachable again: the backoff starts over
            w._plan_retry("office")
            assert "office" not in w._retry_timer and "office" not in w._retry_in
        return out

    assert asyncio.run(plan()) == delays


def test_a_pin_left_behind_by_an_interrupted_push_follows_our_certificate(
    printer_env: PrinterEnv,
) -> None:
    """Issue 13: served = local but pinned to an older fingerprint (a push interrupted
    during the reboot) is pin_outdated; the daemon re-pins instead of pushing again."""
    cfg = printer_env.config()
    assert main(["push", "office", "--config", str(cfg)]) == 0
    config = load_config(cfg)
    uploads = printer_env.emulator.uploads
    with History(config.db_path) as history:
        history.set_pin("office", "AB:" * 31 + "AB", "first-use")  # the pin before that push
        watcher = Watcher(config, history)
        assert asyncio.run(watcher.check(config.printer("office"))) is None  # no push
        assert watcher.states["office"] is State.PIN_OUTDATED
        pin = history.pin("office")
    assert pin is not None and pin.fingerprint == printer_env.files.fingerprint
    assert printer_env.emulator.uploads == uploads
