"""``dpi-watch`` as a user runs it: a real process with ``/metrics`` on a free port, its
log, and the sample lines the subcommands' tests feed it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.net import free_port
from tests.support.servers import process
from tests.support.services import sample, scrape

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


def run_dpi_watch(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``dpi-watch ARGS`` without /metrics, to its exit (for usage and start-up errors)."""
    return subprocess.run(
        [*DPI_WATCH, *args, "--metrics-listen", ""],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
