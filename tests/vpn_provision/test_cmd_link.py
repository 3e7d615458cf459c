"""`vpn-provision link`: a one-time link per device, refused input named."""

from __future__ import annotations

import json

import pytest

from tests.support.vpn import CLI, issue_link
from vpn_provision.state import State


def test_link_usage_errors(state: State, cli: CLI) -> None:
    r = cli("link", "nobody", "--state", str(state.root))
    assert r.code == 2 and "no device" in r.err
    r = cli("link", "alice", "--state", str(state.root), "--expires-in", "0")
    assert r.code == 2 and "seconds" in r.err


@pytest.mark.parametrize(("extra", "expires_in"), [([], 900), (["--expires-in", "3600"], 3600)])
def test_link_json_names_device_url_and_validity(
    state: State, cli: CLI, extra: list[str], expires_in: int
) -> None:
    r = cli("link", "bob", "--state", str(state.root), "--json", *extra)
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["device"] == "bob" and got["expires_in"] == expires_in
    assert got["url"].startswith("http://127.0.0.1:8600/d/")


def test_each_link_is_new_and_qr_draws_it(state: State, cli: CLI) -> None:
    first = issue_link(cli, state, "alice")
    r = cli("link", "alice", "--state", str(state.root), "--qr")
    assert r.code == 0
    second = r.out.splitlines()[0].removeprefix("http://127.0.0.1:8600")
    assert second != first  # a fresh nonce each time: links are single-use
    assert "█" in r.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["carol"], "no device named 'carol'"),  # removed: nothing to download
        (["alice", "--expires-in", "-5"], "--expires-in"),
        (["alice", "--expires-in", "soon"], "--expires-in"),
    ],
)
def test_more_refusals(state: State, cli: CLI, argv: list[str], message: str) -> None:
    r = cli("link", *argv, "--state", str(state.root))
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
