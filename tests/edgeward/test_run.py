from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from edgeward.run import PROCFILE, URLS, read_procfile
from tests.support.net import wait_port

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_lists_every_service_with_a_url() -> None:
    services = read_procfile(PROCFILE)
    assert {s.name for s in services} == set(URLS)
    assert any(s.built for s in services)


def test_make_run_serves_the_demo_app(tmp_path: Path) -> None:
    """`make run` (its launcher) prints the service lines and the app answers `GET /`."""
    for port in (8000, 8443, 9443, 9465, 9466, 9467):  # make run's fixed ports
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is taken (is a `make run` still running?)")
    env = {**os.environ, "EDGEWARD_VAR": str(tmp_path / "var")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeward.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(8000, timeout=60)
        r = httpx.get("http://127.0.0.1:8000/", timeout=10)
        assert r.status_code == 200
        assert "edgeward" in r.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    text = out.decode(errors="replace")
    for name in URLS:
        assert name in text
    assert "http://127.0.0.1:8000" in text
    time.sleep(0.1)
