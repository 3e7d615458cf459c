"""``--workers N``: a worker that crashes is restarted with back-off; the service stays up."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from caldav_gateway.supervisor import backoff, describe_exit
from tests.support.gateway import Gateway, running_gateway


@pytest.mark.parametrize(
    ("deaths", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (500, 30.0)]
)
def test_backoff_doubles_up_to_its_ceiling(deaths: int, delay: float) -> None:
    assert backoff(deaths) == delay


@pytest.mark.parametrize(
    ("code", "text"),
    [(-11, "signal SIGSEGV"), (-9, "signal SIGKILL"), (1, "exit code 1"), (-200, "signal 200")],
)
def test_exit_is_described(code: int, text: str) -> None:
    assert describe_exit(code) == text


def _worker_pids(gw: Gateway) -> dict[int, int]:
    """Worker index → pid of its latest start, from the supervisor's log."""
    pids: dict[int, int] = {}
    for index, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", gw.log_text()):
        pids[int(index)] = int(pid)
    return pids


def _wait_log(gw: Gateway, pattern: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, gw.log_text())) < count:
        assert time.monotonic() < deadline, gw.log_text()[-3000:]
        time.sleep(0.05)


@pytest.mark.slow
def test_a_crashing_worker_is_restarted_and_the_service_keeps_answering(tmp_path: Path) -> None:
    with running_gateway(tmp_path / "gw", ["--workers", "2"]) as gw:
        _wait_log(gw, r"worker \d \(pid \d+\) serving", 2)
        alice = ("alice", gw.users["alice"])
        ctx = gw.ssl_context()

        def answers() -> int:
            # a fresh connection each time: whichever worker is alive accepts it
            r = httpx.request("PROPFIND", gw.url + "/alice/", auth=alice, verify=ctx, timeout=30)
            return r.status_code

        # a real crash, twice in a row: the second restart waits longer (back-off)
        for round_, delay in ((1, 1), (2, 2)):
            victim = _worker_pids(gw)[0]
            os.kill(victim, signal.SIGSEGV)
            _wait_log(gw, r"worker 0 \(pid \d+\) exited with signal SIGSEGV", round_)
            assert f"exited with signal SIGSEGV; restarting it in {delay}s" in gw.log_text()
            # the other worker serves while worker 0 is down
            assert answers() == 207
            _wait_log(gw, r"worker 0 \(pid \d+\) serving", round_ + 1)
        os.kill(_worker_pids(gw)[1], signal.SIGKILL)
        _wait_log(gw, r"worker 1 \(pid \d+\) exited with signal SIGKILL")
        for _ in range(10):
            assert answers() == 207
        _wait_log(gw, r"worker 1 \(pid \d+\) serving", 2)
        assert "stopping" not in gw.log_text()
