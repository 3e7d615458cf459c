"""``printer-sync push`` end to end against the Epson emulator over real TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from edgeward.pki import fingerprint, served_certificate
from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.emulator import Emulator
from printer_sync.history import History
from printer_sync.push import Finished, Push, PushOptions
from tests.support.printers import PASSWORD, PrinterEnv, write_leaf
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow


def served_fp(emu: Emulator) -> str:
    cert, _ = served_certificate(emu.host, emu.port)  # no SNI, as printer clients do
    return fingerprint(cert)


def push(cfg: Path, *args: str) -> int:
    return main(["push", *args, "--config", str(cfg)])


def counter(printer: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "edgeward_printer_push_total", {"printer": printer, "result": result}
    )
    return value or 0.0


def test_first_push_switches_self_signed_to_ca_signed_and_verifies(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = printer_env.emulator
    cert, _ = served_certificate(emu.host, emu.port)
    assert cert.subject == cert.issuer  # the printer starts on its own self-signed certificate
    before = counter("office", "verified")
    cfg = printer_env.config()

    assert push(cfg, "office") == 0

    out, err = capsys.readouterr()
    assert served_fp(emu) == printer_env.files.fingerprint
    assert emu.uses_ca_signed and emu.uploads == 1 and emu.reboots == 2  # upload, then switch
    assert "office: verified" in out and printer_env.files.fingerprint in out
    for step in ("validating", "uploading", "switching from the self-signed"):
        assert step in err  # progress lines
    with History(load_config(cfg).db_path) as h:
        row = h.rows("office")[0]
        pin = h.pin("office")
    assert row.result == "verified" and row.error is None
    assert row.old_fingerprint == fingerprint(cert)
    assert row.new_fingerprint == printer_env.files.fingerprint
    assert row.duration is not None and row.duration >= 2 * emu.reboot_seconds
    assert pin is not None and pin.fingerprint == printer_env.files.fingerprint
    assert counter("office", "verified") == before + 1


def test_second_run_skips_and_sends_nothing(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config()
    assert push(cfg, "--all") == 0
    logins = printer_env.emulator.logins
    before = counter("office", "skipped_unchanged")

    assert push(cfg, "--all") == 0

    assert "skipped_unchanged" in capsys.readouterr().out
    assert printer_env.emulator.logins == logins  # not even a login
    assert counter("office", "skipped_unchanged") == before + 1
    with History(load_config(cfg).db_path) as h:
        assert [r.result for r in h.rows("office")] == ["skipped_unchanged", "verified"]


def test_force_uploads_even_when_unchanged(printer_env: PrinterEnv) -> None:
    cfg = printer_env.config()
    assert push(cfg, "office") == 0
    uploads = printer_env.emulator.uploads
    reboots = printer_env.emulator.reboots
    assert push(cfg, "office", "--force") == 0
    # Already on the CA-signed certificate: one upload, one reboot, no switch; verified
    # only once the printer was back from that reboot (it was seen down, then up).
    assert printer_env.emulator.reboots == reboots + 1 and printer_env.emulator.listening
    assert printer_env.emulator.uploads == uploads + 1
    assert printer_env.emulator.requests[-1][1] == "/PRESENTATIONEX/CERT/IMPORT_CHAIN"


def test_dry_run_changes_nothing(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = printer_env.emulator
    before = served_fp(emu)
    cfg = printer_env.config()

    assert push(cfg, "office", "--dry-run") == 0

    out = capsys.readouterr().out
    assert "dry_run" in out and "would upload" in out and before in out
    assert served_fp(emu) == before and emu.requests == [] and emu.reboots == 0
    with History(load_config(cfg).db_path) as h:
        assert h.rows() == [] and h.pin("office") is None  # not even a first-use pin


def test_renewal_on_a_ca_signed_printer_takes_one_reboot(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = printer_env.config()
    assert push(cfg, "office") == 0
    reboots = printer_env.emulator.reboots
    renewed = write_leaf(printer_env.tmp / "certs", printer_env.chain)  # certbot renews

    assert push(cfg, "office") == 0

    assert served_fp(printer_env.emulator) == renewed.fingerprint
    assert printer_env.emulator.reboots == reboots + 1
    with History(load_config(cfg).db_path) as h:
        row = h.rows("office")[0]
    assert row.old_fingerprint == printer_env.files.fingerprint
    assert row.new_fingerprint == renewed.fingerprint


def test_ca_certificates_are_imported_once(printer_env: PrinterEnv) -> None:
    ca_file = printer_env.tmp / "certs" / "root.pem"
    ca_file.write_bytes(printer_env.chain.root.cert_pem())
    cfg = printer_env.config([printer_env.printer(ca_certs=[str(ca_file)])])

    assert push(cfg, "office") == 0

    emu = printer_env.emulator
    assert [fingerprint(c) for c in emu.ca_store()] == [printer_env.chain.root.fingerprint]
    assert emu.ca_imports == 1
    # Unchanged certificate, CA already imported: nothing to do, no login.
    logins = emu.logins
    assert push(cfg, "office") == 0
    assert emu.logins == logins and emu.ca_imports == 1


def test_setup_complete_firmware_applies_without_reboot(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator]
) -> None:
    # A 60 s reboot would blow the 20 s reboot_timeout: this firmware must not need one.
    emu = start_emulator(firmware="setup-complete", reboot_seconds=60.0)
    cfg = printer_env.config([printer_env.printer(url=emu.url, reboot_timeout=20.0)])
    assert push(cfg, "office") == 0
    assert served_fp(emu) == printer_env.files.fingerprint


def test_printers_are_pushed_concurrently(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator]
) -> None:
    """p0's first reboot is held until p1 and p2 are pushed: pushes one after the other
    could never get there, so order proves concurrency (a stopwatch failed on a busy machine)."""
    emus = [start_emulator() for _ in range(3)]
    release = threading.Event()
    reboot = emus[0]._reboot

    async def held_reboot(downtime: float) -> None:
        if emus[0].reboots == 0:  # the upload's reboot; the switch's runs as usual
            await asyncio.to_thread(release.wait, 150)
        await reboot(downtime)

    emus[0]._reboot = held_reboot  # type: ignore[method-assign]
    p0_held: list[bool] = []

    def release_once_the_others_are_done() -> None:
        try:
            wait_until(lambda: all(e.reboots == 2 for e in emus[1:]), 120, "p1 and p2 pushed")
            p0_held.append(emus[0].reboots == 0)
        finally:
            release.set()

    tables = [
        printer_env.printer(name=f"p{i}", url=e.url, reboot_timeout=150.0)
        for i, e in enumerate(emus)
    ]
    cfg = printer_env.config(tables)
    watcher = threading.Thread(target=release_once_the_others_are_done)
    watcher.start()
    try:
        assert push(cfg, "--all") == 0
    finally:
        release.set()
        watcher.join(130)
    assert p0_held == [True], "p1 and p2 were not pushed while p0 was rebooting"
    assert all(served_fp(e) == printer_env.files.fingerprint for e in emus)


def test_repin_accepts_a_replaced_printer(
    printer_env: PrinterEnv,
    start_emulator: Callable[..., Emulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = printer_env.config()
    with History(load_config(cfg).db_path) as h:
        h.set_pin("office", "AA:" * 31 + "AA", "first-use")  # the printer before its replacement
    assert push(cfg, "office") == 1
    assert "pin_changed" in capsys.readouterr().out
    served = served_fp(printer_env.emulator)

    assert push(cfg, "office", "--repin", "00" * 32) == 1  # not what it serves: refused
    assert "does not match" in capsys.readouterr().out
    assert push(cfg, "office", "--repin", served.replace(":", "").lower()) == 0
    assert served_fp(printer_env.emulator) == printer_env.files.fingerprint


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["push", "--config", "{cfg}"], "name the printers"),
        (["push", "office", "--all", "--config", "{cfg}"], "not both"),
        (["push", "nosuch", "--config", "{cfg}"], "no printer named 'nosuch'"),
        (["push", "--all", "--repin", "AB", "--config", "{cfg}"], "exactly one printer"),
        (["push", "office", "--repin", "XY", "--config", "{cfg}"], "not a SHA-256"),
    ],
)
def test_usage_errors_exit_2(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    cfg = printer_env.config()
    assert main([a.replace("{cfg}", str(cfg)) for a in argv]) == 2
    assert fragment in capsys.readouterr().err
    assert printer_env.emulator.requests == []


def test_a_killed_push_leaves_an_interrupted_row(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator]
) -> None:
    emu = start_emulator(reboot_seconds=30.0)
    cfg = printer_env.config([printer_env.printer(url=emu.url, reboot_timeout=60.0)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "printer_sync", "push", "office", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        deadline = time.monotonic() + 60  # generous: a loaded machine is slow
        while emu.uploads == 0:  # killed while waiting for the reboot
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        with History(load_config(cfg).db_path) as h:
            assert h.rows("office")[0].result == "running"  # alive: left alone
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with History(load_config(cfg).db_path) as h:
        row = h.rows("office")[0]
        assert h.recovered == 1
    assert row.result == "interrupted" and "killed" in (row.message or "")
    assert main(["history", "--config", str(cfg)]) == 0


def test_half_written_certificate_is_waited_out_then_pushed(printer_env: PrinterEnv) -> None:
    full = printer_env.files.cert.read_bytes()
    printer_env.files.cert.write_bytes(full[: len(full) // 2])  # certbot caught mid-write

    def finish() -> None:
        time.sleep(0.4)
        printer_env.files.cert.write_bytes(full)

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert push(printer_env.config(file_settle=5.0), "office") == 0
    finally:
        writer.join()
    assert served_fp(printer_env.emulator) == printer_env.files.fingerprint


def test_password_is_read_from_the_environment(
    printer_env: PrinterEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFICE_PRINTER_PASSWORD", PASSWORD)
    cfg = printer_env.config(
        [printer_env.printer(password_file=None, password_env="OFFICE_PRINTER_PASSWORD")]
    )
    assert push(cfg, "office") == 0


def test_not_after_is_reported(printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]) -> None:
    assert push(printer_env.config(), "office") == 0
    end = printer_env.files.leaf.cert.not_valid_after_utc
    assert f"valid until {end:%Y-%m-%d}" in capsys.readouterr().out
    assert end > dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("tls", "code", "result"),
    [("insecure", 0, "verified"), ("system", 1, "tls_untrusted")],
)
def test_tls_modes(
    printer_env: PrinterEnv,
    capsys: pytest.CaptureFixture[str],
    tls: str,
    code: int,
    result: str,
) -> None:
    cfg = printer_env.config([printer_env.printer(tls=tls)])
    assert push(cfg, "office") == code
    assert f"office: {result}" in capsys.readouterr().out
    with History(load_config(cfg).db_path) as h:
        assert h.pin("office") is None  # pins belong to tls = "pin" only
    if tls == "system":  # the self-signed printer fails the handshake: no password sent
        assert printer_env.emulator.logins == 0 and printer_env.emulator.requests == []


def test_a_ca_added_later_is_imported_without_reupload(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(printer_env.config(), "office") == 0
    emu = printer_env.emulator
    uploads, reboots = emu.uploads, emu.reboots
    ca_file = printer_env.tmp / "certs" / "root.pem"
    ca_file.write_bytes(printer_env.chain.root.cert_pem())
    cfg = printer_env.config([printer_env.printer(ca_certs=[str(ca_file)])])
    capsys.readouterr()

    assert push(cfg, "office") == 0

    assert "imported 1 CA certificate(s)" in capsys.readouterr().out
    assert (emu.uploads, emu.reboots, emu.ca_imports) == (uploads, reboots, 1)
    assert served_fp(emu) == printer_env.files.fingerprint


def test_the_steps_work_alone(printer_env: PrinterEnv, tmp_path: Path) -> None:
    """validate, plan and record without a printer: the state machine's steps are units."""
    printer = load_config(printer_env.config()).printer("office")
    with History(tmp_path / "steps.db") as h:
        step = Push(printer, h, PushOptions(settle=0.5))
        asyncio.run(step.validate())
        assert step.new_fp == printer_env.files.fingerprint
        step.old_fp = step.new_fp  # as if fetch() had found our certificate served
        with pytest.raises(Finished) as early:
            step.plan()
        assert early.value.outcome == "skipped_unchanged"
        result = step.record(early.value.outcome, early.value.message)
        assert result.ok and h.rows("office")[0].result == "skipped_unchanged"

        dry = Push(printer, h, PushOptions(dry_run=True))
        dry.bundle, dry.old_fp, dry.new_fp = step.bundle, "AB:" * 31 + "AB", step.new_fp
        with pytest.raises(Finished) as early:
            dry.plan()
        assert early.value.outcome == "dry_run" and "would upload" in early.value.message
        dry.record(early.value.outcome, early.value.message)
        assert len(h.rows("office")) == 1  # a dry run writes no row
    assert printer_env.emulator.requests == []
