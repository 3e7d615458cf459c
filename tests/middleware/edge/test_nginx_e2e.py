"""End to end with the real nginx: corrupted request lines → 400 → log → dpi-watch → ASN.

What nginx really does (checked here, and the reason for the set-up): a request line with
the seed's ``0x80 0x01`` bytes is refused with 400 **before any header is read**, so the
realip module never runs for it and ``$remote_addr`` stays the TCP peer (127.0.0.1 in a
test; the client itself when nginx is the edge). Clean requests do get their client from
``X-Forwarded-For`` (``set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For``).

To give the refused requests public client addresses on loopback, the test connects like
a TCP load balancer speaking the PROXY protocol: ``$proxy_protocol_addr`` is known from the
connection's first line, before the request line, and the edgeward formats log it.
``dpi-watch --trusted-proxy 127.0.0.1`` then attributes those lines to that address.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from middleware.edge.nginx_log import parse_combined
from tests.support.net import free_port
from tests.support.servers import nginx, process

ROOT = Path(__file__).resolve().parents[3]
FORMATS = ROOT / "deploy" / "nginx" / "edgeward-log-formats.conf"

TABLE = (
    "121.6.0.0\t121.7.255.255\t9506\tSG\tSINGTEL-AS-AP Singapore Telecommunications Ltd\n"
    "8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n"
    "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
)
# (PROXY-protocol source address, request line): the seed's two signatures and a control byte.
CORRUPTED = [
    ("121.6.10.20", b"GET /media/ca\x80\x01.jpg?w=640 HTTP/1.1"),
    ("121.7.1.2", b"GET /media/IMG_0042.jpg\x80\x04=640 HTTP/1.1"),
    ("1.0.0.7", b"GET /a\x01b HTTP/1.1"),
]
EXPECTED = {("dpi_signature", "9506"): 2, ("control_bytes", "13335"): 1}
CLEAN_CLIENT = "8.8.8.8"

pytestmark = pytest.mark.slow


def _send(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        return s.recv(4096)


def _clean(port: int, client: str, n: int = 1) -> None:
    for _ in range(n):
        reply = _send(
            port,
            b"GET /clean HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            + f"X-Forwarded-For: {client}\r\n\r\n".encode(),
        )
        assert reply.startswith(b"HTTP/1.1 200"), reply[:60]


def _corrupted(pp_port: int) -> None:
    for source, line in CORRUPTED:
        proxy = f"PROXY TCP4 {source} 127.0.0.1 40000 {pp_port}\r\n".encode()
        reply = _send(pp_port, proxy + line + b"\r\nHost: t\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400"), reply[:60]


def _metrics(port: int) -> dict[tuple[str, ...], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[tuple[str, ...], float] = {}
    for m in re.finditer(
        r'^edgeward_corruption_events_total\{asn="(\w+)",kind="(\w+)",source="(\w+)"\} (\S+)$',
        text,
        re.M,
    ):
        out[(m.group(2), m.group(1), m.group(3))] = float(m.group(4))
    for m in re.finditer(r'^edgeward_edge_log_lines_total\{result="(\w+)"\} (\S+)$', text, re.M):
        out[("lines", m.group(1))] = float(m.group(2))
    return out


def _wait_for(
    port: int, want: dict[tuple[str, str], int], timeout: float = 15
) -> dict[tuple[str, str], int]:
    deadline = time.monotonic() + timeout
    while True:
        got = _metrics(port)
        events = {(k, a): int(v) for (k, a, *rest), v in got.items() if rest == ["edge"]}
        if events == want or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, int, int, int]]:
    port, pp_port = free_port(), free_port()
    udp = free_port(kind=socket.SOCK_DGRAM)
    block = f"""
    include {FORMATS};
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{pp_port} proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        access_log {{prefix}}/logs/access.log combined;
        access_log {{prefix}}/logs/edge.log edgeward_combined;
        access_log syslog:server=127.0.0.1:{udp},tag=nginx edgeward_json;
        location / {{ return 200 "ok\\n"; }}
    }}
    """
    with nginx(block, tmp_path) as prefix:
        yield prefix, port, pp_port, udp


def _watch(args: list[str], tmp: Path, name: str) -> tuple[list[str], int, Path]:
    mport = free_port()
    events = tmp / f"{name}-events.jsonl"
    table = tmp / "table.tsv"
    table.write_text(TABLE)
    argv = [
        sys.executable,
        "-m",
        "middleware",
        "dpi-watch",
        *args,
        "--asn-table",
        str(table),
        "--events",
        str(events),
        "--trusted-proxy",
        "127.0.0.1",
        "--metrics-listen",
        f"127.0.0.1:{mport}",
    ]
    return argv, mport, events


def _check_events(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    got = sorted((r["client"], r["asn"], r["kind"]) for r in rows)
    assert got == sorted(
        [
            ("121.6.10.20", 9506, "dpi_signature"),
            ("121.7.1.2", 9506, "dpi_signature"),
            ("1.0.0.7", 13335, "control_bytes"),
        ]
    )
    assert all(r["source"] == "edge" and r["detail"] == "request_line" for r in rows)
    assert any("8001" in r["evidence_hex"] for r in rows)
    assert any("8004" in r["evidence_hex"] for r in rows)


def test_nginx_refuses_corrupted_lines_and_logs_the_peer_not_the_forwarded_client(
    site: tuple[Path, int, int, int],
) -> None:
    """The fact the design rests on, checked against the real nginx."""
    prefix, port, _pp, _udp = site
    _clean(port, CLEAN_CLIENT)
    reply = _send(
        port, b"GET /media/ca\x80\x01.jpg HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 8.8.8.9\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 400")
    deadline = time.monotonic() + 60  # generous: a loaded machine is slow
    log = prefix / "logs" / "access.log"
    while log.read_bytes().count(b"\n") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    clean, bad = (parse_combined(x) for x in log.read_bytes().splitlines())
    assert clean.client == CLEAN_CLIENT  # realip applied: headers were read
    assert bad.status == 400 and bad.request == b"GET /media/ca\x80\x01.jpg HTTP/1.1"
    assert bad.client == "127.0.0.1"  # refused at the request line: realip never ran
    assert b"\\x80\\x01" in log.read_bytes()  # nginx's escaping, as the parser expects


def test_dpi_watch_tail_counts_refused_lines_under_the_right_asn(
    site: tuple[Path, int, int, int], tmp_path: Path
) -> None:
    prefix, port, pp_port, _udp = site
    argv, mport, events = _watch(
        ["tail", str(prefix / "logs" / "edge.log"), "--from-start"], tmp_path, "tail"
    )
    with process(argv, port=mport, log=tmp_path / "tail.out"):
        _clean(port, CLEAN_CLIENT, 3)
        _corrupted(pp_port)
        assert _wait_for(mport, EXPECTED) == EXPECTED
        lines = _metrics(mport)
        assert lines[("lines", "parsed")] == 3 + len(CORRUPTED)
    _check_events(events)


def test_dpi_watch_syslog_counts_refused_lines_under_the_right_asn(
    site: tuple[Path, int, int, int], tmp_path: Path
) -> None:
    _prefix, port, pp_port, udp = site
    argv, mport, events = _watch(
        ["syslog", "--listen", f"127.0.0.1:{udp}", "--nginx-format", "json"], tmp_path, "syslog"
    )
    with process(argv, port=mport, log=tmp_path / "syslog.out"):
        # The UDP socket binds just after /metrics listens: wait until a clean line counts.
        deadline = time.monotonic() + 60  # generous: a loaded machine is slow
        while _metrics(mport).get(("lines", "parsed"), 0) < 1:
            assert time.monotonic() < deadline, "dpi-watch syslog never counted a line"
            _clean(port, CLEAN_CLIENT)
            time.sleep(0.2)
        _corrupted(pp_port)
        assert _wait_for(mport, EXPECTED) == EXPECTED
    _check_events(events)
