"""A malicious printer cannot exhaust or hang printer-sync (issue 11, item 6).

The printer here is pinned on first contact (it is the first thing ``push`` talks to) and
then answers the login with a flood or a drip. Every answer is read as a stream under a
size cap, every request has one deadline for the whole answer, and the whole push has its
own (``push_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from edgeward.pki import self_signed, write_pair
from printer_sync.config import load_config
from printer_sync.drivers.transport import MAX_ANSWER_BYTES
from printer_sync.errors import ErrorKind
from printer_sync.history import History
from printer_sync.push import PushResult, Retry, push_printer
from tests.support.printers import PrinterEnv

# (connection, stop, bytes sent so far: the answer adds to [0] as it goes)
Answer = Callable[[ssl.SSLSocket, threading.Event, list[int]], None]


def flood(declare: bool) -> Answer:
    """200 OK, then 64 KiB chunks up to 64 MiB (with or without announcing the size)."""

    def answer(tls: ssl.SSLSocket, stop: threading.Event, sent: list[int]) -> None:
        total = 64 << 20
        size = f"Content-Length: {total}" if declare else "Connection: close"
        tls.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{size}\r\n\r\n".encode())
        chunk = b"<p>" + b"x" * (64 * 1024 - 3)
        while sent[0] < total and not stop.is_set():
            tls.sendall(chunk)  # raises once the client hung up
            sent[0] += len(chunk)

    return answer


def drip(tls: ssl.SSLSocket, stop: threading.Event, sent: list[int]) -> None:
    """A valid head, then one byte of body every 0.2 s (each read succeeds in time)."""
    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    deadline = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < deadline:
        tls.sendall(b"x")
        sent[0] += 1
        stop.wait(0.2)


@contextlib.contextmanager
def hostile_printer(tmp: Path, answer: Answer) -> Iterator[tuple[str, list[list[int]]]]:
    """A TLS server on 127.0.0.1 that handshakes like a printer and answers requests with
    ``answer``; yields its URL and the byte counts it managed to send per request."""
    tmp.mkdir(parents=True, exist_ok=True)
    write_pair(self_signed("EPSONHOSTILE"), tmp / "key.pem", tmp / "cert.pem")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    sent: list[list[int]] = []  # per answered request
    workers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                data = tls.recv(4096)
                if not data:
                    return  # a bare handshake (the served-certificate check)
                head += data
            progress = [0]
            sent.append(progress)
            answer(tls, stop, progress)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            t = threading.Thread(target=handle, args=(conn,), daemon=True)
            t.start()
            workers.append(t)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}", sent
    finally:
        stop.set()
        server.join(5)
        for t in workers:
            t.join(5)
        listener.close()


def run_push(printer_env: PrinterEnv, url: str, **overrides: object) -> tuple[PushResult, float]:
    cfg = printer_env.config([printer_env.printer(url=url, **overrides)])
    config = load_config(cfg)
    started = time.monotonic()

    async def go() -> PushResult:
        with History(config.db_path) as history:
            return await push_printer(
                config.printer("office"),
                history=history,
                retry=Retry(attempts=1, backoff=0.05),
                settle=0.5,
            )

    result = asyncio.run(asyncio.wait_for(go(), 90))
    return result, time.monotonic() - started


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "content-length"])
def test_a_flood_is_cut_at_the_cap(tmp_path: Path, printer_env: PrinterEnv, declare: bool) -> None:
    with hostile_printer(tmp_path / "hostile", flood(declare)) as (url, sent):
        result, took = run_push(printer_env, url, timeout=20.0)
    assert result.error is ErrorKind.ANSWER_TOO_LARGE, result
    assert f"{MAX_ANSWER_BYTES // 1024} KiB" in result.message
    # Read no further than the cap (plus what the socket buffers hold): not 64 MiB.
    assert sent and max(n for (n,) in sent) < 16 * MAX_ANSWER_BYTES, sent
    assert took < 15


def test_a_drip_cannot_outlast_the_request_deadline(
    tmp_path: Path, printer_env: PrinterEnv
) -> None:
    with hostile_printer(tmp_path / "hostile", drip) as (url, _):
        result, took = run_push(printer_env, url, timeout=1.0)
    assert result.error is ErrorKind.UNREACHABLE, result
    assert "no complete answer within 1 s" in result.message
    assert took < 10  # one request deadline (and a handshake), not 100 s of drip


def test_the_push_deadline_ends_a_push_that_keeps_retrying(
    tmp_path: Path, printer_env: PrinterEnv
) -> None:
    cfg = printer_env.config()
    with hostile_printer(tmp_path / "hostile", drip) as (url, _):
        config = load_config(
            printer_env.config(
                [printer_env.printer(url=url, timeout=1.0, push_timeout=2.5)], retry_attempts=10
            )
        )
        started = time.monotonic()

        async def go() -> PushResult:
            with History(config.db_path) as history:
                return await push_printer(
                    config.printer("office"), history=history, retry=Retry(10, 0.5), settle=0.5
                )

        result = asyncio.run(asyncio.wait_for(go(), 90))
        took = time.monotonic() - started
    assert result.error is ErrorKind.PUSH_TIMEOUT, result
    assert "push_timeout = 2.5 s" in result.message
    assert took < 8
    deadline = REGISTRY.get_sample_value(
        "edgeward_printer_push_deadline_timestamp_seconds", {"printer": "office"}
    )
    assert deadline == 0  # no push in progress any more
    with History(load_config(cfg).db_path) as h:
        assert h.rows("office")[0].error == "push_timeout"
