"""``printer-sync watch``: a renewal on disk reaches the emulated printer within seconds."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sqlite3
import sys
import time
import urllib.request
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
from tests.printer_sync.conftest import PASSWORD, PrinterEnv, exit_code, write_leaf
from tests.support.net import free_port
from tests.support.servers import process


def served_fp(emu: Emulator) -> str:
    return fingerprint(emu.served_certificate())


def wait_until(what: Callable[[], bool], timeout: float, message: str) -> float:
    """Poll ``what``; return the seconds it took."""
    started = time.monotonic()
    while not what():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{message} within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(edgeward_printer_\w+)\{([^}]*)\} (\S+)$", line)
        if m:
            out[f"{m.group(1)}{{{m.group(2)}}}"] = float(m.group(3))
    return out


def results(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("SELECT result FROM pushes ORDER BY id")]


def watch_argv(cfg: Path) -> list[str]:
    return [sys.executable, "-m", "printer_sync", "watch", "--config", str(cfg)]


@pytest.mark.slow
def test_watch_pushes_at_start_then_picks_up_a_renewal_within_seconds(
    printer_env: PrinterEnv, tmp_path: Path
) -> None:
    emu, files = printer_env.emulator, printer_env.files
    port = free_port()
    cfg = printer_env.config(metrics_listen=f"127.0.0.1:{port}", check_interval=3600.0)
    log = tmp_path / "watch.log"
    with process(watch_argv(cfg), port=port, log=log) as proc:
        # First push at start: self-signed → our CA-signed certificate, verified.
        wait_until(lambda: served_fp(emu) == files.fingerprint, 30, "first push not served")
        assert emu.uses_ca_signed
        # The renewal: new key and certificate written the way certbot/acme.sh do.
        renewed = write_leaf(files.key.parent, printer_env.chain)
        took = wait_until(lambda: served_fp(emu) == renewed.fingerprint, 20, "renewal not pushed")
        assert took < 10, f"renewal reached the printer after {took:.1f} s"
        name = 'printer="office"'
        expected = {
            f"edgeward_printer_served_not_after_timestamp_seconds{{{name}}}": (
                renewed.leaf.cert.not_valid_after_utc.timestamp()
            ),
            f"edgeward_printer_reachable{{{name}}}": 1.0,
            f"edgeward_printer_in_sync{{{name}}}": 1.0,
            f'edgeward_printer_push_total{{{name},result="verified"}}': 2.0,
        }

        def metrics_show_the_renewal() -> bool:
            got = scrape(port)
            return all(got.get(k) == v for k, v in expected.items())

        wait_until(metrics_show_the_renewal, 10, f"metrics differ: {scrape(port)}")
        assert scrape(port)[f"edgeward_printer_last_check_timestamp_seconds{{{name}}}"] > 0
        assert emu.uploads == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert results(tmp_path / "state" / "printer-sync.db") == ["verified", "verified"]
    text = log.read_text()
    assert "files changed for office" in text and "stopped" in text
    assert PASSWORD not in text


@pytest.mark.slow
def test_sigterm_during_a_push_stops_cleanly_and_records_the_interruption(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    slow = start_emulator(reboot_seconds=30.0)
    port = free_port()
    cfg = printer_env.config(
        [printer_env.printer(url=slow.url, reboot_timeout=60.0)],
        metrics_listen=f"127.0.0.1:{port}",
    )
    with process(watch_argv(cfg), port=port, log=tmp_path / "watch.log") as proc:
        wait_until(lambda: slow.reboots == 1, 20, "the printer never started its reboot")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 5
    assert results(tmp_path / "state" / "printer-sync.db") == ["interrupted"]
    with History(tmp_path / "state" / "printer-sync.db") as h:
        last = h.last("office")
    assert last is not None and "cancelled" in (last.message or "")


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


def test_metrics_address_in_use_is_a_usage_error(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        cfg = printer_env.config(metrics_listen=f"127.0.0.1:{port}")
        assert main(["watch", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"metrics_listen 127.0.0.1:{port}: cannot listen on" in err
    assert "Address already in use" in err
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
    from tests.printer_sync.conftest import write_config

    return write_config(
        tmp / "p.toml",
        [
            {"name": "a", "url": "https://127.0.0.1:1", "key": a[0], "cert": a[1]},
            {"name": "b", "url": "https://127.0.0.1:2", "key": b[0], "cert": b[1]},
        ],
        state_dir=tmp / "state",
    )


@pytest.mark.parametrize(
    ("config", "argv", "message"),
    [
        ("", [], "no [[printer]] table: nothing to watch"),
        (
            None,
            ["--metrics-listen", "127.0.0.1"],
            "--metrics-listen: '127.0.0.1': expected HOST:PORT",
        ),
        (None, ["--check-interval", "0"], "--check-interval: expected a number of seconds"),
        (None, ["--check-interval", "nan"], "--check-interval: expected a number of seconds"),
    ],
)
def test_watch_usage_errors(
    printer_env: PrinterEnv,
    capsys: pytest.CaptureFixture[str],
    config: str | None,
    argv: list[str],
    message: str,
) -> None:
    if config is None:
        cfg = printer_env.config()
    else:
        cfg = printer_env.tmp / "empty.toml"
        cfg.write_text(config)
    assert exit_code(["watch", "--config", str(cfg), *argv]) == 2
    assert message in capsys.readouterr().err
    assert printer_env.emulator.logins == 0


@pytest.mark.slow
def test_a_printer_that_comes_up_after_the_daemon_is_pushed_without_waiting_for_the_schedule(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """``make run`` starts the emulator and the daemon together; the daemon may win."""
    later = free_port()
    port = free_port()
    cfg = printer_env.config(
        [printer_env.printer(url=f"https://127.0.0.1:{later}")],
        metrics_listen=f"127.0.0.1:{port}",
        check_interval=3600.0,
    )
    log = tmp_path / "watch.log"
    with process(watch_argv(cfg), port=port, log=log):
        wait_until(lambda: "unreachable" in log.read_text(), 15, "no unreachable check")
        emu = start_emulator(port=later)
        took = wait_until(
            lambda: served_fp(emu) == printer_env.files.fingerprint, 20, "never pushed"
        )
        assert took < 12  # the first retry comes 5 s after the failed check, not in an hour
    assert "retry after 5 s unreachable" in log.read_text()


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
