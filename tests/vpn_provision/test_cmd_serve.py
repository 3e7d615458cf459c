"""`vpn-provision serve` as a process: one download per link, the metrics it counts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.servers import process
from tests.support.vpn import CLI, issue_link, serve_argv
from vpn_provision.state import State


@pytest.mark.slow
def test_serve_command_as_a_process(state: State, cli: CLI, tmp_path: Path) -> None:
    port, mport = free_port(), free_port()
    target = issue_link(cli, state, "bob")
    argv = serve_argv(state.root, port, f"127.0.0.1:{mport}")
    with process(argv, port=port, log=tmp_path / "serve.log"):
        assert httpx.get(f"http://127.0.0.1:{port}{target}").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}{target}").status_code == 404
        metrics = httpx.get(f"http://127.0.0.1:{mport}/metrics").text
    assert 'edgeward_vpn_downloads_total{result="ok"} 1.0' in metrics
    assert 'edgeward_vpn_downloads_total{result="used"} 1.0' in metrics
    assert "edgeward_vpn_devices 2.0" in metrics
    assert "edgeward_vpn_links_issued_total 1.0" in metrics
