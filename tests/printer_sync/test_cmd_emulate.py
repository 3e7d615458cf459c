"""``printer-sync emulate``: the emulator as a command, on real TLS."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from edgeward.pki import served_certificate
from tests.support.net import free_port
from tests.support.printers import PASSWORD, exit_code, login, web
from tests.support.servers import process


def test_the_emulate_command(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    argv = [
        sys.executable, "-m", "printer_sync", "emulate",
        "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "state"),
        "--password-file", str(tmp_path / "pw"), "--reboot-seconds", "0.5",
    ]  # fmt: skip
    with process(argv, port=port, cwd=Path(__file__).parents[2], log=tmp_path / "log") as proc:
        cert, _ = served_certificate("127.0.0.1", port)
        assert cert.subject == cert.issuer
        with web(f"https://127.0.0.1:{port}/") as c:
            assert c.cookies.get("EPSON_COOKIE_SESSION") is None
            login(c)
            assert c.cookies.get("EPSON_COOKIE_SESSION")
        proc.terminate()
        assert proc.wait(10) == 0
    assert (tmp_path / "state" / "self-cert.pem").exists()
    assert PASSWORD not in (tmp_path / "log").read_text()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--listen", "nohost"], 2, "--listen"),
        (["--password-file", "{tmp}/missing"], 2, "--password-file"),
        (["--state-dir", "/proc/self/x"], 2, "--state-dir /proc/self/x"),
        (["--reboot-seconds", "-1"], 2, "--reboot-seconds"),
        (["--fault", "no-such-fault"], 2, "--fault"),
        (["--password", "x", "--password-file", "{tmp}/pw"], 2, "not allowed with"),
    ],
)
def test_usage_errors_exit_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    argv = ["emulate", "--state-dir", str(tmp_path / "state"), "--listen", "127.0.0.1:0"]
    assert exit_code([*argv, *(a.format(tmp=tmp_path) for a in args)]) == code
    assert message in capsys.readouterr().err


def test_a_taken_address_exits_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        argv = ["emulate", "--state-dir", str(tmp_path / "state"), "--listen", listen]
        assert exit_code(argv) == 1
    assert f"cannot listen on {listen}" in capsys.readouterr().err
