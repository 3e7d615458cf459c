"""Shared fixtures: a state directory with devices, its rendered tree (``out``), the CLI run
in-process, and ``run_tool`` for the real validators."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from vpn_provision.cli import main
from vpn_provision.render import render, snapshot, write_tree
from vpn_provision.settings import Settings
from vpn_provision.state import State, init

HOST = "vpn.example.org"
# `vpn-provision init`'s required options, as a user types them
INIT = ["--host", HOST, "--net4", "10.77.0.0/24", "--net6", "fd77::/64"]


@dataclass
class Ran:
    code: int
    out: str
    err: str


CLI = Callable[..., Ran]


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


def serve_argv(root: Path, port: int, metrics: str = "off") -> list[str]:
    """`vpn-provision serve` for the state ``root`` on 127.0.0.1:``port``."""
    return [
        sys.executable, "-m", "vpn_provision", "serve", "--state", str(root),
        "--listen", f"127.0.0.1:{port}", "--metrics-listen", metrics,
    ]  # fmt: skip


def make_state(root: Path, os_name: str = "linux", **extra: object) -> State:
    settings = Settings(
        host=HOST,
        net4="10.77.0.0/24",
        net6="fd77::/64",
        os=os_name,  # type: ignore[arg-type]
        external_interface="vio0" if os_name == "openbsd" else "eth0",
        **extra,  # type: ignore[arg-type]
    )
    return init(root, settings)


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


def run_tool(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=60)
