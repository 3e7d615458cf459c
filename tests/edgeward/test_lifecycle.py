"""edgeward.lifecycle: real signals to a child process, /metrics closed after stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from edgeward.config import metrics_address
from edgeward.lifecycle import OFF, daemon, metrics_enabled
from edgeward.serving import bind_tcp

# The child serves /metrics on a port it binds itself (port 0: no collision between runs),
# says so, waits for the stop event, and says "stopped" only after the context has exited.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from edgeward.lifecycle import daemon
    from edgeward.serving import bind_tcp

    async def main():
        sock = bind_tcp("127.0.0.1:0")
        port = sock.getsockname()[1]
        async with daemon(f"127.0.0.1:{port}", metrics_sock=sock) as life:
            async def last():
                print("closer ran", flush=True)
            life.on_exit(last)
            print("ready", port, flush=True)
            await life.stop.wait()
        print("stopped", flush=True)

    asyncio.run(main())
    """
)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_daemon_cleanly_and_closes_metrics(sig: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("ready "), line + child.stderr.read() if child.stderr else line
        port = int(line.split()[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
            assert reply.status == 200
            assert b"# HELP" in reply.read()
        child.send_signal(sig)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.splitlines() == ["closer ran", "stopped"]
    assert "Traceback" not in err
    assert not _port_open(port)


def test_listen_error_names_the_address() -> None:
    taken = bind_tcp("127.0.0.1:0")
    address = f"127.0.0.1:{taken.getsockname()[1]}"

    async def main() -> None:
        async with daemon(address, signals=False):
            raise AssertionError("should not start")

    try:
        with pytest.raises(OSError, match=f"cannot listen on {address}"):
            asyncio.run(main())
    finally:
        taken.close()


def test_closers_run_in_reverse_order_and_set_the_stop_event() -> None:
    seen: list[str] = []

    async def main() -> asyncio.Event:
        async with daemon(OFF, signals=False) as life:
            for name in ("first", "second", "third"):

                async def closer(name: str = name) -> None:
                    seen.append(name)

                life.on_exit(closer)
        return life.stop

    stop = asyncio.run(main())
    assert seen == ["third", "second", "first"]
    assert stop.is_set()


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("off", False), ("", False), (None, False), ("127.0.0.1:9466", True), ("[::1]:1", True)],
)
def test_metrics_enabled(value: str | None, enabled: bool) -> None:
    assert metrics_enabled(value) is enabled


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1", "127.0.0.1:99999", "Off"])
def test_metrics_address_refuses_what_is_neither_an_address_nor_off(value: str) -> None:
    with pytest.raises(ValueError, match=f"'{value}': .*(HOST:PORT|port must be)"):
        metrics_address(value)


@pytest.mark.parametrize("value", ["off", "127.0.0.1:0", "[::1]:9466"])
def test_metrics_address_accepts(value: str) -> None:
    metrics_address(value)
