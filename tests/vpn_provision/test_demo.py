"""``make run``'s VPN part: prepare() keeps the state, makes a working link each run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edgeward.run import read_procfile
from tests.support.net import free_port
from tests.support.servers import process
from tests.support.vpn import serve_argv
from vpn_provision.demo import DEVICE, prepare
from vpn_provision.state import State


def test_prepare_is_idempotent_and_prints_a_link(tmp_path: Path) -> None:
    first = prepare(tmp_path)
    db = (tmp_path / "vpn/state/state.db").stat().st_size
    ca = (tmp_path / "vpn/state/ca/ca.pem").read_bytes()
    second = prepare(tmp_path)
    assert (tmp_path / "vpn/state/ca/ca.pem").read_bytes() == ca
    with State(tmp_path / "vpn/state") as st:
        assert [d.name for d in st.devices()] == [DEVICE]
        assert st.device(DEVICE).p12_password.reveal() not in "\n".join(first + second)
    links = [line.split(": ", 2)[-1] for line in first + second if "one-time link" in line]
    assert len(links) == 2 and links[0] != links[1]
    assert any("█" in line for line in first)  # the QR code
    assert db > 0 and (tmp_path / "vpn/out/clients" / DEVICE / f"{DEVICE}.conf").exists()


@pytest.mark.slow
def test_procfile_line_serves_the_link(tmp_path: Path) -> None:
    (service,) = [s for s in read_procfile() if s.name == "vpn"]
    assert "vpn-provision serve" in service.command
    lines = prepare(tmp_path)
    url = next(line for line in lines if "one-time link" in line).split(": ", 2)[-1]
    target = url.removeprefix("http://127.0.0.1:8600")
    port = free_port()
    argv = serve_argv(tmp_path / "vpn/state", port)
    with process(argv, port=port, log=tmp_path / "serve.log"):
        page = httpx.get(f"http://127.0.0.1:{port}{target}")
        assert page.status_code == 200 and DEVICE in page.text
