"""Shared fixtures: a state directory with devices, its rendered tree (``out``), the CLI run
in-process (the helpers they use are in ``tests/support/vpn.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.vpn import CLI, Ran, make_state
from vpn_provision.cli import main
from vpn_provision.render import render, snapshot, write_tree
from vpn_provision.state import State


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    def run(*argv: str) -> Ran:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: --help, usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


@pytest.fixture
def state(tmp_path: Path) -> State:
    """alice (ios, both), bob (linux, WireGuard only), carol (macos; removed)."""
    st = make_state(tmp_path / "state")
    st.add("alice", "ios", trusted_ssids=["Home", "Home 5G"])
    st.add("bob", "linux", ["wireguard"])
    st.add("carol", "macos")
    st.remove("carol")
    yield st
    st.close()


@pytest.fixture
def out(state: State, tmp_path: Path) -> Path:
    """The state rendered for Linux and OpenBSD, written under ``tmp_path/out``."""
    o = tmp_path / "out"
    write_tree(o, render(snapshot(state), ["linux", "openbsd"]))
    return o
