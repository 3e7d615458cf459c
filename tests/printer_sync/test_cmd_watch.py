"""``printer-sync watch`` as a daemon: a renewal on disk reaches the emulated printer within
seconds; signals, ``/metrics``, usage errors."""

from __future__ import annotations

import re
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from printer_sync.cli import main
from printer_sync.emulator import Emulator
from printer_sync.history import History
from tests.support.net import free_port
from tests.support.printers import PASSWORD, PrinterEnv, exit_code, results, served_fp, write_leaf
from tests.support.servers import process
from tests.support.wait import wait_until


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(edgeward_printer_\w+)\{([^}]*)\} (\S+)$", line)
        if m:
            out[f"{m.group(1)}{{{m.group(2)}}}"] = float(m.group(3))
    return out


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
        wait_until(lambda: served_fp(emu) == files.fingerprint, 30, "the first push served")
        assert emu.uses_ca_signed
        # The renewal: new key and certificate written the way certbot/acme.sh do.
        renewed = write_leaf(files.key.parent, printer_env.chain)
        started = time.monotonic()
        wait_until(lambda: served_fp(emu) == renewed.fingerprint, 20, "the renewal pushed")
        took = time.monotonic() - started
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

        wait_until(
            metrics_show_the_renewal, 10, f"metrics showing the renewal (first: {scrape(port)})"
        )
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
        wait_until(lambda: slow.reboots == 1, 20, "the printer starting its reboot")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 5
    assert results(tmp_path / "state" / "printer-sync.db") == ["interrupted"]
    with History(tmp_path / "state" / "printer-sync.db") as h:
        last = h.last("office")
    assert last is not None and "cancelled" in (last.message or "")


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
        wait_until(lambda: "unreachable" in log.read_text(), 15, "an unreachable check")
        emu = start_emulator(port=later)
        started = time.monotonic()
        wait_until(lambda: served_fp(emu) == printer_env.files.fingerprint, 20, "the push")
        took = time.monotonic() - started
        assert took < 12  # the first retry comes 5 s after the failed check, not in an hour
    assert "retry after 5 s unreachable" in log.read_text()
