"""``make run`` (``edgeward/run.py``): the Procfile, ``--check``, and the demo end to end.

The end-to-end test runs ``make run`` exactly as a newcomer does, on a pseudo-terminal,
with the virtual environment NOT on ``PATH``; then it checks, against the running demo:
nginx in front of the app feeds dpi-watch (a corrupted request line counted within a
second), ``/metrics`` answers without a redirect, every command the banner prints runs
as printed, ``dpi-report`` flags the demo incident, and Ctrl-C ends ``make run`` with
exit 0 and no ``make: *** ... Error 130``. It is one test because the demo owns fixed
ports: two of its parts must never run at once (pytest-xdist would split a module).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeward.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from edgeward.procfile import Service, read_procfile
from edgeward.run import OPTIONAL, URLS, banner, check, procfile
from middleware.demo_nginx import HTTP_PORT, HTTPS_PORT, send_corrupted
from middleware.report.synthetic import SEED_ASN
from tests.support.net import wait_port
from tests.support.services import sample, scrape
from tests.support.terminal import Terminal
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# make run's fixed ports: app, nginx (2), caldav, emulator, metrics of caldav/printer/dpi-watch.
PORTS = (8000, HTTP_PORT, HTTPS_PORT, 8443, 9443, 9465, 9466, 9467)


# --- the Procfile and --check (no service started) ---


def test_procfile_lists_every_service_with_a_url() -> None:
    services = read_procfile(procfile())
    assert {s.name for s in services} == set(URLS)
    assert "nginx" in {s.executable for s in services}


@pytest.mark.parametrize(
    ("programs", "code", "verdicts"),
    [
        ({"tool-a", "nginx"}, EXIT_OK, ["ok", "ok"]),
        ({"tool-a"}, EXIT_OK, ["ok", "skipped"]),  # nginx is optional
        ({"nginx"}, EXIT_FAILED, ["missing", "ok"]),
    ],
)
def test_check_names_each_service(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    programs: set[str],
    code: int,
    verdicts: list[str],
) -> None:
    for name in programs:
        exe = tmp_path / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    # No system nginx either: the sbin folders are searched too.
    monkeypatch.setattr("edgeward.which.SBIN_DIRS", ())
    services = [Service("a", "tool-a --x"), Service("nginx", "nginx -p p")]
    assert check(services, str(tmp_path)) == code
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == verdicts
    if "skipped" in verdicts:
        assert "apt-get install nginx" in lines[1]


def test_check_on_a_broken_procfile_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "Procfile"
    bad.write_text("no colon here\n")
    code = (
        "import sys, edgeward.run as r; from pathlib import Path; "
        f"r.procfile = lambda: Path({str(bad)!r}); sys.exit(r.main(['--check']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.strip() == f"error: {bad}:1: expected 'NAME: COMMAND', got 'no colon here'"


def test_banner_says_what_is_missing_and_how_to_install_it(tmp_path: Path) -> None:
    services = [Service("app", "uvicorn x"), Service("nginx", "nginx -p p")]
    text = banner(services, {"nginx"}, ["$ dpi-report x"], tmp_path)
    nginx_line = next(line for line in text.splitlines() if line.strip().startswith("nginx"))
    assert OPTIONAL["nginx"] in nginx_line
    assert "apt-get install nginx" in nginx_line
    assert "waiting" not in text


def test_without_nginx_make_run_starts_the_rest_and_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import edgeward.run as run

    real_find_tool = run.find_tool

    def no_nginx(name: str, path: str | None = None) -> str | None:
        return None if name == "nginx" else real_find_tool(name, path)

    started: list[str] = []

    def supervise(services: list[Service], cwd: Path) -> int:
        started.extend(s.name for s in services)
        return EXIT_OK

    monkeypatch.setattr(run, "find_tool", no_nginx)
    monkeypatch.setattr("middleware.demo_nginx.find_tool", no_nginx)
    monkeypatch.setattr(run, "supervise", supervise)
    monkeypatch.setenv("EDGEWARD_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("PATH", os.environ["PATH"])  # main() extends it: restored after
    assert run.main([]) == EXIT_OK
    out = capsys.readouterr().out
    assert started == [name for name in URLS if name != "nginx"]
    (nginx_line,) = [line for line in out.splitlines() if line.startswith("  nginx ")]
    assert "apt-get install nginx" in nginx_line
    assert "demo_nginx" not in out  # no command that needs nginx is offered
    assert "$ dpi-report" in out


# --- make run, end to end ---


def _started_pids(output: str) -> list[int]:
    return [int(p) for p in re.findall(r"started \(pid=(\d+)\)", output)]


@contextlib.contextmanager
def make_run(var: Path) -> Iterator[Terminal]:
    for port in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is taken (is a `make run` still running?)")
    # As a newcomer: the virtual environment is not active.
    path = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != VENV_BIN]
    env = {
        **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        "PATH": os.pathsep.join(path),
        "EDGEWARD_VAR": str(var),
        "TERM": "dumb",
    }
    term = Terminal(["make", "--no-print-directory", "run"], cwd=ROOT, env=env)
    try:
        yield term
    finally:
        if term.poll() is None:  # the test failed before Ctrl-C: stop what it started
            with contextlib.suppress(TimeoutError):
                term.ctrl_c()
                term.wait(30)
        for pid in _started_pids(term.output()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if term.poll() is None:
            os.kill(term.pid, signal.SIGKILL)
            term.wait(10)
        term.close()


def banner_commands(output: str) -> list[str]:
    """The ``$ command`` lines of the banner, as printed."""
    head = output.split("state and generated files:", 1)[0]
    return re.findall(r"^\s+\$ (.+)$", head, re.M)


def _edge_events() -> float:
    return sample(scrape(9467), "edgeward_corruption_events_total", kind="dpi_signature")


def _seconds_until_dpi_watch_counts_a_corrupted_line() -> float:
    before = _edge_events()
    sent = time.monotonic()
    status = send_corrupted(HTTP_PORT)
    assert status.startswith(b"HTTP/1.1 400"), status
    while _edge_events() == before:
        assert time.monotonic() - sent < 30, "dpi-watch never counted the corrupted line"
        time.sleep(0.02)
    return time.monotonic() - sent


def _run_as_printed(
    activate: str, command: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``command`` in bash after the banner's activation line, retried until it exits 0
    (the printer's first push may still be under way) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    script = f"{activate}\n{command}\n"
    while True:
        proc = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert "command not found" not in proc.stderr, (command, proc.stderr)
        if proc.returncode == 0 or time.monotonic() > deadline:
            return proc
        time.sleep(1)


@pytest.mark.slow
def test_make_run_end_to_end(tmp_path: Path) -> None:
    require_tool("nginx")  # in CI: `make run` must show nginx feeding dpi-watch
    require_tool("curl")  # the banner's commands use it
    var = tmp_path / "var"
    with make_run(var) as term:
        out = term.wait_for("state and generated files:", timeout=180)
        for port in PORTS:
            wait_port(port, timeout=120)
        term.wait_for("dpi-watch started", timeout=60)

        # The banner lists every service, nothing "not built"/"waiting".
        head = out.split("state and generated files:", 1)[0]
        for name in URLS:
            assert re.search(rf"^  {re.escape(name)}\s+\S", head, re.M), name
        assert "not built" not in head and "waiting" not in head

        # nginx in front of the app: a corrupted request line reaches dpi-watch's metrics.
        wait_port(9467, timeout=60)
        assert _seconds_until_dpi_watch_counts_a_corrupted_line() < 1.0
        # ... and the app answers through nginx's shipped vhost, over TLS.
        ca = var / "nginx" / "certs" / "ca.pem"
        tls = ssl.create_default_context(cafile=str(ca))
        home = httpx.get(f"https://127.0.0.1:{HTTPS_PORT}/", verify=tls, timeout=30)
        assert home.status_code == 200 and "edgeward demo" in home.text

        # /metrics answers itself (no 307 to /metrics/).
        metrics = httpx.get("http://127.0.0.1:8000/metrics", timeout=30)
        assert metrics.status_code == 200
        assert "edgeward_requests_by_asn_total" in metrics.text

        # Every command the banner prints runs as printed, after the printed activation.
        commands = banner_commands(out)
        activate = commands.pop(0)
        assert activate == f"source {VENV_BIN / 'activate'}"
        assert len(commands) >= 8
        for command in commands:
            proc = _run_as_printed(activate, command, timeout=90)
            assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])

        # dpi-report on the demo files flags the demo incident; its HTML page was written.
        table, log = var / "middleware" / "ip2asn.tsv", var / "report" / "demo-access.log"
        report = subprocess.run(
            [VENV_BIN / "dpi-report", "--asn-table", table, "--json", log],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(report.stdout)["totals"]["flagged"] == [SEED_ASN]
        assert str(SEED_ASN) in (var / "report" / "report.html").read_text()

        # Ctrl-C: everything stops, make exits 0 without an error line.
        term.ctrl_c()
        code = term.wait(60)
        text = term.output()
        assert code == 0, text[-3000:]
        assert "make: ***" not in text
        assert "Traceback" not in text
        for name in URLS:
            assert re.search(rf"{re.escape(name)} stopped", text), name
