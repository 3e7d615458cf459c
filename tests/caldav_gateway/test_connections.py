"""Idle, half-open and too many connections never shut a real client out (issue 11, item 2)."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from caldav_gateway.connections import ClientConnections, RateLimitedLoopErrors
from tests.support.attack import (
    PARTIAL_HELLO,
    IdleFlood,
    median_sync,
    open_metric,
    raise_open_file_limit,
    record_figure,
)
from tests.support.gateway import Gateway, running_gateway
from tests.support.tools import require_tool
from tests.support.wait import wait_until


def test_client_connections_are_counted_per_ipv4_address_and_ipv6_slash_64() -> None:
    conns = ClientConnections(2)
    assert conns.admit("192.0.2.1") == "192.0.2.1"
    assert conns.admit("192.0.2.1") == "192.0.2.1"
    assert conns.admit("192.0.2.1") is None  # the third from one address
    assert conns.admit("192.0.2.2") == "192.0.2.2"
    assert conns.admit("2001:db8::1") == "2001:db8::/64"
    assert conns.admit("2001:db8::ffff") == "2001:db8::/64"
    assert conns.admit("2001:db8::2:1") is None  # same /64
    assert conns.admit("2001:db8:0:1::1") == "2001:db8:0:1::/64"
    conns.release("192.0.2.1")
    assert conns.admit("192.0.2.1") == "192.0.2.1"
    for _ in range(2):
        conns.release("2001:db8::/64")
    assert "2001:db8::/64" not in conns.open  # nothing kept for clients that left


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_loop_errors_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    handler = RateLimitedLoopErrors(interval=10.0, clock=clock)
    emfile = OSError(24, "Too many open files")
    context = {"message": "socket.accept() out of system resource", "exception": emfile}
    with caplog.at_level(logging.ERROR):
        for _ in range(2048):  # what one tick of asyncio's accept loop can produce
            handler(None, context)  # type: ignore[arg-type]
        clock.now = 10.5
        handler(None, context)  # type: ignore[arg-type]
        handler(None, {"message": "a bug", "exception": KeyError("x")})  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "socket.accept() out of system resource: [Errno 24] Too many open files"
    assert lines[1].endswith("(2047 more like it not logged)")
    assert len(lines) == 3
    assert caplog.records[0].exc_info is None  # no traceback for an OS error
    assert caplog.records[2].exc_info is not None  # a bug keeps its traceback


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the gateway closed ``sock`` (EOF or reset), or None if it stayed open."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except (TimeoutError, ssl.SSLWantReadError):
            continue
        except OSError:
            return time.monotonic() - started
    return None


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("conns")
    config = tmp / "gateway.toml"
    config.write_text(
        "handshake_timeout = 1.0\nheader_timeout = 1.5\nmax_connections_per_client = 4\n"
    )
    with running_gateway(tmp / "gw", ["--config", str(config)]) as gw:
        yield gw


def _connect(gw: Gateway, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection((gw.host, gw.port), timeout=10, source_address=(source, 0))


def _tls(gw: Gateway, source: str = "127.0.0.1") -> ssl.SSLSocket:
    return gw.ssl_context().wrap_socket(_connect(gw, source), server_hostname="localhost")


@pytest.mark.parametrize("kind", ["silent", "half-hello", "no-request", "dripping-headers"])
def test_idle_connections_are_closed(strict_gateway: Gateway, kind: str) -> None:
    gw = strict_gateway
    with contextlib.ExitStack() as stack:
        if kind in ("silent", "half-hello"):
            sock: socket.socket = stack.enter_context(_connect(gw, "127.0.0.5"))
            if kind == "half-hello":
                sock.sendall(PARTIAL_HELLO)
            took = _closed_within(sock, 30)
        else:
            sock = stack.enter_context(_tls(gw, "127.0.0.5"))
            started = time.monotonic()
            took = None
            if kind == "dripping-headers":
                # a byte every 0.3 s does not extend the 1.5 s given for the headers
                with contextlib.suppress(OSError):
                    for byte in b"PROPFIND /alice/ HTTP/1.1\r\nHost: localhost\r\nX-Drip: yes":
                        sock.sendall(bytes([byte]))
                        time.sleep(0.3)
                took = time.monotonic() - started
                assert took < 20
            else:
                took = _closed_within(sock, 30)
        assert took is not None, f"{kind}: the gateway kept the connection open"
    if kind == "dripping-headers":
        assert open_metric(gw, 'edgeward_caldav_connections_closed_total{reason="header_timeout"}')


def test_a_complete_request_after_a_pause_is_still_served(strict_gateway: Gateway) -> None:
    """The header deadline does not cut a client that is slow to start but then sends."""
    with _tls(strict_gateway) as sock:
        time.sleep(0.5)
        sock.sendall(b"OPTIONS /alice/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(4096):
                data += chunk
    assert data.startswith(b"HTTP/1.1 200")


def test_connections_are_capped_per_client_address(strict_gateway: Gateway) -> None:
    gw = strict_gateway
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(_tls(gw, "127.0.0.6")) for _ in range(4)]
        extra = stack.enter_context(_connect(gw, "127.0.0.6"))
        took = _closed_within(extra, 5)
        assert took is not None and took < 5, "the fifth connection of 127.0.0.6 stayed open"
        # the four held ones still work, and another address is not affected
        held[0].sendall(b"OPTIONS /alice/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert held[0].recv(4096).startswith(b"HTTP/1.1 200")
        with _tls(gw, "127.0.0.7") as other:
            other.sendall(b"OPTIONS /alice/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert other.recv(4096).startswith(b"HTTP/1.1 200")
    assert open_metric(gw, 'edgeward_caldav_connections_closed_total{reason="per_client_cap"}')


@pytest.mark.slow
def test_running_out_of_descriptors_logs_a_line_not_a_flood(tmp_path: Path) -> None:
    """With 128 file descriptors, 300 connections make accept() fail with EMFILE: the log
    says so once per 10 s, and the gateway serves again as soon as they go."""
    prlimit = require_tool("prlimit", "util-linux")
    raise_open_file_limit(4096)
    with running_gateway(tmp_path / "gw", prefix=[prlimit, "--nofile=128:128", "--"]) as gw:
        socks: list[socket.socket] = []
        try:
            for i in range(300):
                with contextlib.suppress(OSError):
                    socks.append(_connect(gw, f"127.0.1.{i % 250 + 1}"))
            deadline = time.monotonic() + 30
            while "out of system resource" not in gw.log_text():
                assert time.monotonic() < deadline, gw.log_text()[-2000:]
                time.sleep(0.1)
            time.sleep(3)  # asyncio retries accept() every second meanwhile
            log = gw.log_text()
        finally:
            for s in socks:
                s.close()
        assert log.count("out of system resource") <= 2, log[-3000:]
        assert "Traceback" not in log and len(log) < 20_000
        deadline = time.monotonic() + 60
        while True:
            try:
                with _tls(gw) as sock:
                    sock.sendall(b"OPTIONS /alice/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.5)


@pytest.mark.slow
def test_a_real_client_syncs_while_1000_idle_connections_are_held(tmp_path: Path) -> None:
    """Issue 11's must-show: a ``caldav`` client keeps its normal latency while 1,000 idle,
    half-handshaken and header-dripping connections from 20 other addresses are held open
    (re-opened as fast as the gateway closes them)."""
    raise_open_file_limit(8192)
    with running_gateway(tmp_path / "gw") as gw:
        baseline, base_rounds = median_sync(gw, 6)
        sources = [f"127.0.2.{i}" for i in range(1, 21)]  # 50 each: under the cap of 100
        with IdleFlood(gw, 1000, sources).running() as flood:
            deadline = time.monotonic() + 180
            while open_metric(gw, "edgeward_caldav_connections_open") < 950:
                assert time.monotonic() < deadline, "the flood never reached 950 connections"
                time.sleep(0.5)
            held = open_metric(gw, "edgeward_caldav_connections_open")
            attacked, attack_rounds = median_sync(gw, 6)
            still_held = open_metric(gw, "edgeward_caldav_connections_open")
            # The flood re-opens what the 10 s header timeout closes; on a busy machine it
            # lags (634 of 1000 once): the gateway must let it back up to 800, however slowly.
            wait_until(
                lambda: open_metric(gw, "edgeward_caldav_connections_open") >= 800,
                120,
                "the flood to hold 800 connections again",
                interval=0.5,
            )
        report = (
            f"idle flood: {held:.0f} connections open ({still_held:.0f} after the syncs, "
            f"{flood.reopened} re-opened); caldav sync median {baseline:.3f}s without, "
            f"{attacked:.3f}s with; rounds {[round(t, 3) for t in base_rounds]} / "
            f"{[round(t, 3) for t in attack_rounds]}"
        )
        record_figure("caldav-idle-flood", report)
        assert held >= 950, report
        # "its normal latency": within 3× the quiet median plus scheduling noise of a busy box
        assert attacked <= 3 * baseline + 1.0, report
        assert "out of system resource" not in gw.log_text()
        assert re.search(r"Traceback", gw.log_text()) is None
