"""`vpn-provision link`: a one-time link per device, refused input named."""

from __future__ import annotations

from tests.vpn_provision.conftest import CLI
from vpn_provision.state import State


def test_link_usage_errors(state: State, cli: CLI) -> None:
    r = cli("link", "nobody", "--state", str(state.root))
    assert r.code == 2 and "no device" in r.err
    r = cli("link", "alice", "--state", str(state.root), "--expires-in", "0")
    assert r.code == 2 and "seconds" in r.err


def issue_link(cli: CLI, state: State, device: str, *extra: str) -> str:
    r = cli("link", device, "--state", str(state.root), *extra)
    assert r.code == 0, r.err
    url = r.out.splitlines()[0]
    assert url.startswith("http://127.0.0.1:8600/d/")
    return url.removeprefix("http://127.0.0.1:8600")
