"""A real capture: nginx on loopback, tcpdump on ``lo``, raw-socket clients, then
``dpi-report`` and ``tshark`` read the same file.

What loopback gives that synthetic files cannot: the kernel's own segmentation, real
handshakes and ACKs, nginx closing a connection after its 400, and tcpdump's file format.
The damaged requests are the seed's (``0x80 0x01`` / ``0x80 0x04`` over two characters);
some are split over several segments (``TCP_NODELAY`` and separate sends), some pipelined.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from middleware.capture import read_capture
from middleware.cli.dpi_report import main as dpi_report
from middleware.report.render_json import escape_bytes
from tests.support.net import free_port, wait_port
from tests.support.servers import nginx
from tests.support.tools import in_ci, require_tool

pytestmark = pytest.mark.slow

HOST = b"Host: shop.test\r\n"
CLEAN = b"GET /shop/index.html HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"
KEEP = b"GET /shop/keep-alive.css HTTP/1.1\r\n" + HOST + b"\r\n"
BAD1 = b"GET /media/IMG_\x80\x01.jpg?w=640 HTTP/1.1\r\n" + HOST + b"\r\n"
BAD4 = b"GET /api/v1/\x80\x04ders HTTP/1.1\r\n" + HOST + b"\r\n"
SENTINEL = b"GET /end-of-test HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"

# Each connection: the sends, one segment each (TCP_NODELAY).
CONNECTIONS: list[list[bytes]] = [
    [CLEAN],
    [b"GET /media/", BAD1[len(b"GET /media/") :]],  # damaged, split before the damage
    [BAD4[:13], BAD4[13:]],  # damaged, split between 0x80 and 0x04
    [KEEP + BAD4 + CLEAN],  # pipelined: the damaged one in the middle of a segment
    [KEEP, CLEAN[:20], CLEAN[20:]],  # clean, keep-alive, split
    [KEEP + BAD1[:9], BAD1[9:]],  # pipelined and split
]
DAMAGED = [(1, BAD1), (2, BAD4), (3, BAD4), (5, BAD1)]  # (connection, request)


def _line(request: bytes) -> bytes:
    return request.split(b"\r\n", 1)[0]


@contextlib.contextmanager
def _tcpdump(port: int, out: Path) -> Iterator[None]:
    """tcpdump on ``lo`` for our port only; yields once it is capturing, stops it with SIGINT."""
    binary = require_tool("tcpdump")
    # -Z root: run as root, Debian's tcpdump drops to its own user, which may not write
    # into the test's temporary folder.
    user = ["-Z", "root"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [binary, "-i", "lo", "-U", "-s", "0", *user, "-w", str(out), f"tcp port {port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    listening = threading.Event()
    stderr: list[bytes] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr.append(line)
            if b"listening on" in line:
                listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not listening.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                reader.join(5)
                said = b"".join(stderr).decode(errors="replace")
                if ("ermission" in said or "not permitted" in said) and not in_ci():
                    pytest.skip(f"tcpdump may not capture here: {said.strip()}")
                raise RuntimeError(f"tcpdump did not start: {said}")
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        reader.join(5)


def _send(port: int, sends: list[bytes]) -> tuple[str, int]:
    """One connection: each send its own segment; read until nginx closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for data in sends:
            sock.sendall(data)
            # The next send waits until this segment has been ACKed (nothing in flight),
            # so the kernel cannot merge two sends into one segment.
            deadline = time.monotonic() + 10
            while _unacked(sock) and time.monotonic() < deadline:
                time.sleep(0.001)
        sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass
        return sock.getsockname()[0], int(sock.getsockname()[1])


def _unacked(sock: socket.socket) -> int:
    # struct tcp_info: tcpi_unacked is the 5th u32 after 8 u8 fields (linux/tcp.h).
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int.from_bytes(info[8 + 4 * 4 : 8 + 4 * 5], "little")


def _wait_for(path: Path, needle: bytes) -> None:
    deadline = time.monotonic() + 30
    while not (path.exists() and needle in path.read_bytes()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} never reached {path}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], int]:
    tmp = tmp_path_factory.mktemp("capture")
    port = free_port()
    block = f"""
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
    """
    out = tmp / "lo.pcap"
    with nginx(block, tmp):
        wait_port(port)
        with _tcpdump(port, out):
            sports = [_send(port, sends)[1] for sends in CONNECTIONS]
            _send(port, [SENTINEL])
            _wait_for(out, b"/end-of-test")  # everything sent before it is in the file
    return out, sports, port


def test_dpi_report_finds_exactly_the_damaged_requests(
    capture: tuple[Path, list[int], int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, sports, _ = capture
    assert dpi_report(["--json", "--no-progress", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (inp,) = doc["captures"]["inputs"]
    assert (inp["format"], inp["linktype"], inp["connections"], inp["http"]) == (
        "pcap",
        1,
        len(CONNECTIONS) + 1,
        len(CONNECTIONS) + 1,
    )
    requests = sum(s.count(b"HTTP/1.1\r\n") for sends in CONNECTIONS for s in sends)
    assert doc["totals"]["requests"] == requests + 1  # and the sentinel
    assert doc["totals"]["corrupted"] == len(DAMAGED)
    events = sorted(doc["captures"]["events"], key=lambda e: e["frame"])
    assert [(e["tcp_client"], e["target"]) for e in events] == [
        (f"127.0.0.1:{sports[i]}", escape_bytes(_line(req).split(b" ")[1])) for i, req in DAMAGED
    ]
    assert all(e["client"] == "127.0.0.1" and e["kind"] == "dpi_signature" for e in events)
    assert [e["stream"] for e in events] == [i for i, _ in DAMAGED]  # the order connections opened
    for e in events:
        assert e["ttl"] == 64 and e["field"] == "request-line"
        assert e["peer_ttls"] == {"64": e["peer_ttls"]["64"]}  # the client's other segments
        assert set(e["stream_ttls"]) == {"64"} and e["stream_ttls"]["64"] >= 3
        assert e["frame"] in e["frames"]
    # The split ones span two segments; the pipelined one in a single segment does not.
    assert [len(e["frames"]) for e in events] == [2, 2, 1, 2]


def test_tshark_agrees_on_the_request_lines(capture: tuple[Path, list[int], int]) -> None:
    path, _, port = capture
    tshark = require_tool("tshark")
    out = subprocess.run(
        [
            tshark,
            "-r",
            str(path),
            # Not port 80: without this tshark's heuristic gives up on a connection whose
            # first segment holds less than a request line.
            "-d",
            f"tcp.port=={port},http",
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-E",
            "aggregator=|",
            "-e",
            "ip.src",
            "-e",
            "tcp.stream",
            "-e",
            "http.request.method",
            "-e",
            "http.request.uri",
            "-e",
            "http.request.version",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    theirs = []
    for row in out.decode("utf-8", "replace").splitlines():
        src, stream, methods, uris, versions = row.split("\t")
        for m, u, v in zip(methods.split("|"), uris.split("|"), versions.split("|"), strict=True):
            theirs.append((src, int(stream), f"{m} {u} {v}"))
    result = read_capture(path, keep_lines=True)
    assert result.lines is not None
    ours = [(c, line.decode("utf-8", "replace")) for c, line in result.lines]
    assert [(s, line) for s, _, line in theirs] == ours
    damaged = {stream for _, stream, line in theirs if "\x01" in line or "\x04" in line}
    assert damaged == {i for i, _ in DAMAGED}


def test_tshark_agrees_on_the_checksums(capture: tuple[Path, list[int], int]) -> None:
    """Loopback never fills in TCP checksums (the kernel trusts itself): both say invalid."""
    path, _, _ = capture
    tshark = require_tool("tshark")
    out = subprocess.run(
        [
            *(tshark, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-T", "fields"),
            *("-e", "frame.number", "-e", "tcp.checksum.status"),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout.decode()
    status = dict(line.split("\t") for line in out.splitlines())  # 0 bad, 1 good
    events = read_capture(path).events
    assert len(events) == len(DAMAGED)
    for e in events:
        assert e.evidence.checksum == {"0": "invalid", "1": "valid"}[status[str(e.evidence.frame)]]
