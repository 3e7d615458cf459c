"""vpn_provision for the tests: a state made in one call, the CLI's result, the real
validators run as commands, ``serve``'s command line, a one-time link issued through the
CLI, and the echo server and client that probe a real tunnel. The fixtures (``cli``,
``state``, ``out``) are in ``tests/vpn_provision/conftest.py``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


def run_tool(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=60)


def issue_link(cli: CLI, state: State, device: str, *extra: str) -> str:
    r = cli("link", device, "--state", str(state.root), *extra)
    assert r.code == 0, r.err
    url = r.out.splitlines()[0]
    assert url.startswith("http://127.0.0.1:8600/d/")
    return url.removeprefix("http://127.0.0.1:8600")


PORT = 7000


# Echo server: answers each connection with the address it came from, then closes.
ECHO = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", %d))
s.listen(8)
print("listening", flush=True)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].removeprefix("::ffff:").encode() + b"\\n")
    c.close()
"""


CONNECT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
print(c.recv(100).decode().strip())
"""
