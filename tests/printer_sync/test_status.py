"""``printer-sync status`` against real TLS servers on loopback.

The servers here are plain TLS listeners (a printer's web server as far as a handshake
can tell); the end-to-end test against the Epson emulator lives at the bottom. Rendering and
usage errors of the command are in ``test_cmd_status.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeward.pki import Issued, fingerprint, issue, make_ca, write_pair
from printer_sync.cli import main
from printer_sync.history import History
from tests.printer_sync import conftest
from tests.printer_sync.conftest import PASSWORD, PrinterEnv
from tests.support.net import free_port

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("status test CA")


def issue_leaf(ca: Issued, days_left: float, name: str = "printer.test") -> Issued:
    end = NOW + dt.timedelta(days=days_left)
    return issue(ca, [name, "127.0.0.1"], not_before=end - dt.timedelta(days=90), not_after=end)


@contextlib.contextmanager
def tls_server(tmp: Path, served: Issued | None, *, sni: Issued | None = None) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 serving ``served`` (``None``: accept and stay silent).

    With ``sni``, a client that sends SNI gets that certificate instead: what a shared
    reverse proxy does, and what a printer check must not be fooled by.
    """
    tmp.mkdir(parents=True, exist_ok=True)

    def context(issued: Issued, stem: str) -> ssl.SSLContext:
        write_pair(issued, tmp / f"{stem}.key", tmp / f"{stem}.pem")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / f"{stem}.pem", tmp / f"{stem}.key")
        return ctx

    ctx = context(served, "default") if served else None
    if ctx is not None and sni is not None:
        other = context(sni, "sni")

        def pick(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if name:
                sock.context = other

        ctx.sni_callback = pick  # type: ignore[assignment]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if ctx is None:
                held.append(conn)  # a printer that accepts and never answers
                continue
            with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(2)
                tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for c in held:
            c.close()


def write_config(tmp: Path, printers: list[dict[str, object]]) -> Path:
    return conftest.write_config(tmp / "printers.toml", printers, state_dir=tmp / "state")


def local_files(tmp: Path, name: str, issued: Issued) -> dict[str, str]:
    key, cert = tmp / name / "privkey.pem", tmp / name / "cert.pem"
    write_pair(issued, key, cert)
    return {"key": str(key), "cert": str(cert)}


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
        cfg = write_config(
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
        cfg = write_config(
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
        cfg = write_config(tmp_path, printers)
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
