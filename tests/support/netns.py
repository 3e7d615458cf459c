"""Two network namespaces joined by a veth pair, for real tunnels between them.

Names carry the pid and a random suffix so parallel runs never collide; everything is
removed on exit, even when the test fails. Where the machine forbids namespaces the test
is skipped with the reason, and fails instead under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from tests.support.tools import in_ci, require_tool

TIMEOUT = 60.0


def run(
    argv: Sequence[str], *, check: bool = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=TIMEOUT, check=False, **kw
    )  # type: ignore[call-overload]
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    return p  # type: ignore[no-any-return]


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"network namespaces are required in CI: {reason}")
    pytest.skip(reason)


@dataclass
class Pair:
    """Namespaces ``server`` and ``client``; underlay 172.31.<n>.1 / .2 on the veth."""

    tag: str
    server: str
    client: str
    server_ip: str
    client_ip: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def exec(self, ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", ns, *argv], check=check)

    def spawn(self, ns: str, *argv: str, **kw: object) -> subprocess.Popen[str]:
        p: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            ["ip", "netns", "exec", ns, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            **kw,
        )
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[str]) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


@contextlib.contextmanager
def namespace_pair() -> Iterator[Pair]:
    require_tool("ip", "iproute2")
    if os.geteuid() != 0:
        unavailable("network namespaces need root here")
    tag = f"{os.getpid() % 10000}{secrets.token_hex(2)}"
    octet = secrets.randbelow(200) + 20
    pair = Pair(tag, f"vpns{tag}", f"vpnc{tag}", f"172.31.{octet}.1", f"172.31.{octet}.2")
    made: list[str] = []
    try:
        for ns in (pair.server, pair.client):
            p = run(["ip", "netns", "add", ns], check=False)
            if p.returncode != 0:
                unavailable(f"ip netns add is not permitted here: {p.stderr.strip()}")
            made.append(ns)
        vs, vc = f"vs{tag}", f"vc{tag}"
        run(
            [
                "ip",
                "link",
                "add",
                vs,
                "netns",
                pair.server,
                "type",
                "veth",
                "peer",
                "name",
                vc,
                "netns",
                pair.client,
            ]
        )
        for ns, dev, ip in ((pair.server, vs, pair.server_ip), (pair.client, vc, pair.client_ip)):
            pair.exec(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev)
            pair.exec(ns, "ip", "link", "set", dev, "up")
            pair.exec(ns, "ip", "link", "set", "lo", "up")
        yield pair
    finally:
        for p in pair.procs:
            pair.stop(p)
        for ns in made:
            run(["ip", "netns", "del", ns], check=False)


def wait_for(condition: object, what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
