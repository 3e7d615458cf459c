"""``dpi-watch`` as a user runs it: a real process, real UDP datagrams, its ``/metrics``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.deploy.services import sample, scrape
from tests.support.net import free_port
from tests.support.servers import process

DPI_WATCH = [sys.executable, "-m", "middleware", "dpi-watch"]
GOOD = (
    b'{"msec":1795750515.5,"remote_addr":"203.0.113.7","request":"GET /a\\u0001b HTTP/1.1",'
    b'"status":"400"}'
)
HUGE_STATUS = GOOD.replace(b'"400"', b'"' + b"9" * 5000 + b'"')
INFINITE_TIME = GOOD.replace(b"1795750515.5", b'"1e400"')
FRAME = b"<190>Nov 27 03:35:15 vm nginx: "


@contextmanager
def dpi_watch(tmp: Path, *args: str) -> Iterator[int]:
    """Run ``dpi-watch ARGS`` with /metrics on a free port until its input is open; yields
    that port."""
    port = free_port()
    argv = [*DPI_WATCH, *args, "--metrics-listen", f"127.0.0.1:{port}"]
    log = tmp / "dpi-watch.log"
    with process(argv, port=port, log=log, cwd=tmp, timeout=60) as proc:
        ready = "receiving nginx syslog" if args[0] == "syslog" else "following"
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield port
        assert proc.poll() is None, "dpi-watch exited"


def wait_for(port: int, done: Callable[[str], bool], within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while True:
        text = scrape(port)
        if done(text):
            return text
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.1)


def lines(text: str, result: str) -> float:
    return sample(text, "edgeward_edge_log_lines_total", result=result)


def test_syslog_survives_poison_datagrams_and_counts_them(tmp_path: Path) -> None:
    udp = free_port(kind=socket.SOCK_DGRAM)
    events = tmp_path / "events.jsonl"
    args = ["syslog", "--listen", f"127.0.0.1:{udp}", "--nginx-format", "json"]
    with dpi_watch(tmp_path, *args, "--events", str(events)) as port:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for line in (HUGE_STATUS, INFINITE_TIME, GOOD):
                s.sendto(FRAME + line, ("127.0.0.1", udp))
        text = wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert lines(text, "malformed") == 2
        # still ingesting after the poison: one more good line is read
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(FRAME + GOOD, ("127.0.0.1", udp))
        wait_for(port, lambda t: lines(t, "parsed") >= 2)
        wait_for(port, lambda t: events.exists() and events.read_text().count("\n") >= 2)
    for row in events.read_text().splitlines():
        assert json.loads(row, parse_constant=_refuse)["time"] == 1795750515.5


def _refuse(name: str) -> object:
    raise AssertionError(f"{name} in the events file")


def test_tail_survives_poison_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    args = ["tail", str(log), "--nginx-format", "json", "--interval", "0.05"]
    with dpi_watch(tmp_path, *args) as port:
        scrape(port)
        with log.open("ab") as f:
            f.write(HUGE_STATUS + b"\n" + INFINITE_TIME + b"\n" + GOOD + b"\n")
        text = wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert lines(text, "malformed") == 2
        with log.open("ab") as f:
            f.write(GOOD + b"\n")
        wait_for(port, lambda t: lines(t, "parsed") >= 2)


def test_datagrams_from_other_senders_are_refused_and_counted(tmp_path: Path) -> None:
    udp = free_port(kind=socket.SOCK_DGRAM)
    args = ["syslog", "--listen", f"127.0.0.1:{udp}", "--nginx-format", "json"]
    with dpi_watch(tmp_path, *args, "--allow-from", "127.0.0.2") as port:
        for source in ("127.0.0.1", "127.0.0.2"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((source, 0))
                s.sendto(FRAME + GOOD, ("127.0.0.1", udp))
        text = wait_for(port, lambda t: sample(t, "edgeward_edge_syslog_refused_total") >= 1)
        text = wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert sample(text, "edgeward_edge_syslog_refused_total") == 1
    assert "127.0.0.1: not an allowed sender" in (tmp_path / "dpi-watch.log").read_text()


def test_the_last_line_age_grows_while_nothing_arrives(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with dpi_watch(tmp_path, "tail", str(log), "--interval", "0.05") as port:
        first = sample(scrape(port), "edgeward_edge_last_line_age_seconds")
        text = wait_for(port, lambda t: sample(t, "edgeward_edge_last_line_age_seconds") > first)
        assert "# TYPE edgeward_edge_last_line_age_seconds gauge" in text
        with log.open("ab") as f:
            f.write(b'1.2.3.4 - - [27/Nov/2026:03:35:15 +0000] "GET / HTTP/1.1" 200 3 "-" "-"\n')
        wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert sample(scrape(port), "edgeward_edge_last_line_age_seconds") < 30


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["tail", "x.log", "--interval", "0"], "--interval"),
        (["tail", "x.log", "--interval", "-1"], "--interval"),
        (["tail", "x.log", "--interval", "nan"], "--interval"),
        (["tail", "x.log", "--interval", "inf"], "--interval"),
        (["syslog", "--allow-from", "everyone"], "--allow-from"),
        (["syslog", "--listen", "example.org:5140"], "--listen"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], says: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*DPI_WATCH, *args, "--metrics-listen", ""],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_a_taken_syslog_port_is_named_and_exits_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        proc = subprocess.run(
            [*DPI_WATCH, "syslog", "--listen", address, "--metrics-listen", ""],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert proc.returncode == 1
    assert address in proc.stderr and "Traceback" not in proc.stderr
