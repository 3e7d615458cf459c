"""The fault matrix: every way a push can fail is named, recorded and counted, and the
printer keeps what it served before (never a false success).

Each case asserts the exit code, the message, the history row and the metric.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from edgeward.files import atomic_write
from edgeward.pki import fingerprint, issue, make_ca, served_certificate
from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.emulator import Emulator
from printer_sync.history import History
from tests.support.net import free_port
from tests.support.printers import PASSWORD, PrinterEnv, write_leaf

pytestmark = pytest.mark.slow

Setup = Callable[[PrinterEnv, Callable[..., Emulator]], Path]


def _wrong_password(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    env.password_file.write_text("not-the-password\n")
    return env.config()


def _fault(name: str) -> Setup:
    def setup(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
        env.emulator.faults.add(name)
        return env.config()

    return setup


def _unreachable(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    return env.config([env.printer(url=f"https://127.0.0.1:{free_port()}")])


def _slow_reboot(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    env.emulator.reboot_seconds = 3.0
    return env.config([env.printer(reboot_timeout=0.8)])


def _renewal_not_taken(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    cfg = env.config()
    assert main(["push", "office", "--config", str(cfg)]) == 0  # on the CA-signed cert now
    write_leaf(env.tmp / "certs", env.chain)  # renewed...
    env.emulator.faults.add("keep-old-cert")  # ...but the printer keeps the old one
    return cfg


def _mismatched_key(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    other = write_leaf(env.tmp / "other", env.chain)
    return env.config([env.printer(key=other.key)])


def _leaf_with(env: PrinterEnv, **kwargs: object) -> Path:
    write_leaf(env.tmp / "certs", env.chain, **kwargs)  # type: ignore[arg-type]
    return env.config()


def _expired(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    return _leaf_with(env, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=100), days=90)


def _not_yet_valid(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    return _leaf_with(env, not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))


def _ecdsa(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    return _leaf_with(env, key_type="ec256")


def _too_long(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    deeper = make_ca("second intermediate", issuer=env.chain.intermediate)
    leaf = issue(deeper, ["printer.test"])
    folder = env.tmp / "long"
    atomic_write(folder / "key.pem", leaf.key_pem())
    atomic_write(folder / "cert.pem", leaf.cert_pem())
    links = [deeper, env.chain.intermediate, env.chain.root]
    atomic_write(folder / "chain.pem", b"".join(c.cert_pem() for c in links))
    return env.config(
        [env.printer(key=folder / "key.pem", cert=folder / "cert.pem", chain=folder / "chain.pem")]
    )


def _out_of_order(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    return _leaf_with(env, chain_certs=[env.chain.root, env.chain.intermediate])


def _half_written(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    data = env.files.cert.read_bytes()
    env.files.cert.write_bytes(data[: len(data) * 2 // 3])  # the writer died mid-file
    return env.config(file_settle=0.5)


def _changed_pin(env: PrinterEnv, start: Callable[..., Emulator]) -> Path:
    cfg = env.config()
    other = make_ca("the printer before it was replaced")
    with History(load_config(cfg).db_path) as h:
        h.set_pin("office", fingerprint(other.cert), "first-use")
    return cfg


@dataclass(frozen=True)
class Case:
    kind: str
    fragment: str  # in the printed line, the history message
    setup: Setup
    local: bool  # found before anything is sent to the printer


CASES = [
    Case("wrong_password", "Incorrect user name or password", _wrong_password, False),
    Case("rate_limited", "Try again later.", _fault("rate-limit"), False),
    Case("missing_token", "no form with a INPUTT_SETUPTOKEN", _fault("no-token"), False),
    Case("upload_refused", "Failed to import the certificate", _fault("refuse-upload"), False),
    Case("unreachable", "no TLS answer from 127.0.0.1", _unreachable, False),
    Case("reboot_timeout", "did not come back within 0.8 s", _slow_reboot, False),
    Case("old_certificate", "did not take the new certificate", _renewal_not_taken, False),
    Case("connection_reset", "closed the connection", _fault("reset-upload"), False),
    Case("key_mismatch", "does not belong to the certificate", _mismatched_key, True),
    Case("expired", "certificate expired on", _expired, True),
    Case("not_yet_valid", "not valid before", _not_yet_valid, True),
    Case("chain_too_long", "but the printer has 3 slots", _too_long, True),
    Case("chain_invalid", "is not issued by the next certificate", _out_of_order, True),
    Case("key_unsupported", "ECDSA key", _ecdsa, True),
    Case("file_incomplete", "not a complete PEM file", _half_written, True),
    Case("pin_changed", "--repin FINGERPRINT", _changed_pin, True),
]


def _count(result: str) -> float:
    labels = {"printer": "office", "result": result}
    return REGISTRY.get_sample_value("edgeward_printer_push_total", labels) or 0.0


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_fault(
    case: Case,
    printer_env: PrinterEnv,
    start_emulator: Callable[..., Emulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = case.setup(printer_env, start_emulator)
    emu = printer_env.emulator
    before_cert, _ = served_certificate(emu.host, emu.port)
    before_uploads, before_logins = emu.uploads, emu.logins
    before_count = _count(case.kind)
    before_verified = _count("verified")
    capsys.readouterr()

    code = main(["push", "office", "--config", str(cfg)])

    out, err = capsys.readouterr()
    assert code == 1
    assert f"office: {case.kind} " in out and case.fragment in out
    assert f"failed: office ({case.kind})" in err
    with History(load_config(cfg).db_path) as h:
        row = h.rows("office")[0]
    assert row.result == "failed" and row.error == case.kind
    assert case.fragment in (row.message or "")
    assert _count(case.kind) == before_count + 1
    assert _count("verified") == before_verified
    if case.local:
        assert emu.logins == before_logins and emu.uploads == before_uploads  # nothing sent
    if case.kind != "reboot_timeout":  # (that printer is still rebooting)
        after, _ = served_certificate(emu.host, emu.port)
        assert fingerprint(after) == fingerprint(before_cert)  # never a false success


def test_rate_limit_is_retried_with_backoff(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    printer_env.emulator.faults.add("rate-limit")
    cfg = printer_env.config(retry_attempts=3, retry_backoff=0.1)
    assert main(["push", "office", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "retrying in 0.1 s (1/3)" in err and "retrying in 0.2 s (2/3)" in err


def test_a_transient_reset_is_retried_and_then_verified(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = printer_env.emulator
    emu.faults.add("reset-upload")
    original = emu._abort_upload

    def once(method: str, path: str) -> bool:
        hit = original(method, path)
        if hit:
            emu.faults.discard("reset-upload")  # the next try goes through
        return hit

    emu._http.abort_check = once
    assert main(["push", "office", "--config", str(printer_env.config())]) == 0
    err = capsys.readouterr().err
    assert "connection_reset; retrying" in err, err
    cert, _ = served_certificate(emu.host, emu.port)
    assert fingerprint(cert) == printer_env.files.fingerprint


def test_lockout_after_repeated_wrong_passwords(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """The emulator locks logins like the device; then even the right password waits."""
    printer_env.emulator.lockout_after = 2
    printer_env.password_file.write_text("wrong\n")
    cfg = printer_env.config(retry_attempts=1)
    assert main(["push", "office", "--config", str(cfg)]) == 1
    assert main(["push", "office", "--config", str(cfg)]) == 1
    printer_env.password_file.write_text(PASSWORD + "\n")
    assert main(["push", "office", "--config", str(cfg)]) == 1
    assert "office: rate_limited" in capsys.readouterr().out
