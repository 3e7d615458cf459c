"""``printer-sync status`` against real TLS servers on loopback.

The servers here are plain TLS listeners (a printer's web server as far as a handshake
can tell); the end-to-end test against the Epson emulator lives at the bottom. Rendering and
usage errors of the command are in ``test_cmd_status.py``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from edgeward.pki import Issued, fingerprint, make_ca
from printer_sync.cli import main
from printer_sync.history import History
from tests.support.net import free_port
from tests.support.printers import (
    PASSWORD,
    PrinterEnv,
    issue_leaf,
    local_files,
    status_config,
    tls_server,
)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("status test CA")


@pytest.mark.parametrize(
    ("case", "state", "exit_code"),
    [
        ("in_sync", "ok", 0),
        ("renew_due", "renew_due", 0),
        ("mismatch", "mismatch", 1),
        ("expired", "expired", 1),
        ("unreachable", "unreachable", 1),
        ("local_missing", "local_error", 1),
        ("pin_changed", "pin_changed", 1),
        # Issue 13: served = local but pinned to an older one (an interrupted push): not ok.
        ("pin_outdated", "pin_outdated", 0),
        # Serves a certificate one of our pushes carried: out of date, not a pin change.
        ("ours_pushed", "mismatch", 1),
    ],
)
def test_status_state_and_exit_code(
    tmp_path: Path,
    ca: Issued,
    capsys: pytest.CaptureFixture[str],
    case: str,
    state: str,
    exit_code: int,
) -> None:
    ours = issue_leaf(ca, {"renew_due": 10, "expired": -1}.get(case, 60))
    other = issue_leaf(ca, 60, "someone-else.test")
    served = other if case in ("mismatch", "pin_changed", "ours_pushed") else ours
    with contextlib.ExitStack() as stack:
        if case == "unreachable":
            port = free_port()  # nothing listens there
        else:
            port = stack.enter_context(tls_server(tmp_path / "srv", served))
        files = local_files(tmp_path, "p", ours)
        if case == "local_missing":
            Path(files["cert"]).unlink()
        cfg = status_config(
            tmp_path,
            [{"name": "office", "url": f"https://127.0.0.1:{port}", **files, "timeout": 3.0}],
        )
        if case in ("pin_changed", "mismatch", "pin_outdated", "ours_pushed"):
            with History(tmp_path / "state" / "printer-sync.db") as h:
                # mismatch: pinned to what it serves; the others: pinned to a third one
                pinned = other if case == "mismatch" else issue_leaf(ca, 60, "old.test")
                h.set_pin("office", pinned.fingerprint, "first-use")
                if case == "ours_pushed":
                    row = h.start("office")
                    h.note(row, old_fingerprint=None, new_fingerprint=other.fingerprint)
                    h.finish(row, "interrupted")
        code = main(["status", "--config", str(cfg), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == exit_code
    assert [o["state"] for o in out] == [state]
    (o,) = out
    assert o["reachable"] is (case != "unreachable")
    if case != "unreachable":
        assert o["served"]["fingerprint"] == served.fingerprint
    else:
        assert "127.0.0.1" in o["served_error"]
    if case != "local_missing":
        assert o["local"]["fingerprint"] == ours.fingerprint
    else:
        assert "no such file" in o["local_error"]
    assert o["match"] == {
        "in_sync": True,
        "renew_due": True,
        "expired": True,
        "pin_outdated": True,
    }.get(case, None if case in ("unreachable", "local_missing") else False)


def test_status_fetches_without_sni(
    tmp_path: Path, ca: Issued, capsys: pytest.CaptureFixture[str]
) -> None:
    """By name, a client sending SNI would get the proxy's certificate; printers' clients don't."""
    ours, proxy = issue_leaf(ca, 60), issue_leaf(ca, 60, "localhost")
    with tls_server(tmp_path / "srv", ours, sni=proxy) as port:
        files = local_files(tmp_path, "p", ours)
        cfg = status_config(
            tmp_path, [{"name": "office", "url": f"https://localhost:{port}", **files}]
        )
        assert main(["status", "--config", str(cfg), "--json"]) == 0
    (o,) = json.loads(capsys.readouterr().out)
    assert o["served"]["fingerprint"] == ours.fingerprint != proxy.fingerprint


def test_silent_printers_are_checked_concurrently(
    tmp_path: Path, ca: Issued, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = issue_leaf(ca, 60)
    files = local_files(tmp_path, "p", ours)
    with contextlib.ExitStack() as stack:
        printers: list[dict[str, object]] = []
        for i in range(10):
            port = stack.enter_context(tls_server(tmp_path / f"s{i}", None if i % 2 else ours))
            printers.append({"name": f"p{i}", "url": f"https://127.0.0.1:{port}", **files})
        cfg = status_config(tmp_path, printers)
        started = time.monotonic()
        code = main(["status", "--config", str(cfg), "--json", "--timeout", "1.5"])
        elapsed = time.monotonic() - started
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [o["state"] for o in out] == ["ok", "unreachable"] * 5
    # Five silent printers with a 1.5 s timeout each: one after the other would take 7.5 s.
    assert elapsed < 4.0


# --- against the Epson emulator ----------------------------------------------------------


def test_status_before_and_after_a_push_to_the_emulator(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(printer_env.config())
    assert main(["status", "--config", cfg, "--json"]) == 1
    (before,) = json.loads(capsys.readouterr().out)
    assert before["state"] == "mismatch" and before["last_push"] is None
    served = before["served"]
    assert served["subject"] == served["issuer"]  # the printer's own self-signed certificate
    assert served["fingerprint"] == fingerprint(printer_env.emulator.served_certificate())
    assert main(["push", "--all", "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["status", "--config", cfg]) == 0
    text = capsys.readouterr().out
    assert "office" in text and " ok" in text and "match             yes" in text
    assert text.count(printer_env.files.fingerprint) == 3  # served, local, pinned after push
    assert "verified at" in text
    assert PASSWORD not in text
