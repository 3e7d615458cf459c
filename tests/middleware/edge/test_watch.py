"""EdgeIngest with the real attributor and prefix table: counts, events, malformed lines."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from middleware.attribution.attributor import Attributor
from middleware.attribution.prefix_table import PrefixTable
from middleware.edge.nginx_log import LogFormat
from middleware.edge.realip import RealClient
from middleware.edge.watch import EdgeIngest

T = "[27/Nov/2026:03:35:15 +0000]"
DPI_WATCH = [sys.executable, "-m", "middleware", "dpi-watch"]
TABLE = [("121.6.0.0/15", 9506), ("8.8.8.0/24", 15169)]


def combined(client: str, target: str, extra: str = "") -> bytes:
    return f'{client} - - {T} "GET {target} HTTP/1.1" 200 3 "-" "-"{extra}\n'.encode()


def as_json(client: str, target: bytes, pp: str = "") -> bytes:
    req = b"GET " + target + b" HTTP/1.1"
    # escape=json: raw high bytes, \u00XX for control bytes
    body = req.replace(b"\x01", b"\\u0001").replace(b"\x04", b"\\u0004")
    return (
        b'{"msec":1795750515.5,"remote_addr":"' + client.encode() + b'","request":"' + body
        + b'","status":400,"http_x_forwarded_for":"","proxy_protocol_addr":"'
        + pp.encode() + b'"}\n'
    )  # fmt: skip


def requests_total() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "edgeward_requests_by_asn":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


def run(
    blocks: list[bytes], tmp: Path, fmt: LogFormat = "combined", trusted: list[str] | None = None
) -> tuple[EdgeIngest, list[dict[str, object]], float]:
    events = tmp / "events.jsonl"
    attributor = Attributor(table=PrefixTable(TABLE), events_path=events)
    ingest = EdgeIngest(attributor, log_format=fmt, trusted=RealClient(trusted or []))
    before = requests_total()

    async def main() -> None:
        await attributor.start()
        for block in blocks:
            ingest.feed(block)
        ingest.flush()
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    rows = [json.loads(x) for x in events.read_text().splitlines()] if events.exists() else []
    return ingest, rows, requests_total() - before


def test_combined_block_counts_every_request_and_reports_corruption(tmp_path: Path) -> None:
    block = (
        combined("8.8.8.8", "/") * 50
        + combined("121.6.1.2", "/media/ca\\x80\\x01.jpg")
        + combined("121.6.1.3", "/q?x=%80%04")  # percent-encoded: also the signature
        + b"truncated line\n"
        + combined("121.6.1.4", "/caf%C3%A9")  # valid UTF-8: clean
    )
    ingest, events, counted = run([block], tmp_path)
    assert (ingest.lines, ingest.malformed, ingest.corrupted) == (54, 1, 2)
    assert counted == 53
    assert sorted((e["client"], e["asn"], e["kind"], e["source"]) for e in events) == [
        ("121.6.1.2", 9506, "dpi_signature", "edge"),
        ("121.6.1.3", 9506, "dpi_signature", "edge"),
    ]
    assert events[0]["prefix"] == "121.6.0.0/15" and events[0]["detail"] == "request_line"


def test_json_format_with_proxy_protocol_and_raw_bytes(tmp_path: Path) -> None:
    block = (
        as_json("127.0.0.1", b"/media/ca\x80\x01.jpg", pp="121.6.9.9")
        + as_json("8.8.8.8", b"/a\x04b")
        + b'{"remote_addr": "8.8.8.8", "request": "GET / HT\n'  # cut by syslog
        + as_json("8.8.8.8", "/café".encode())
    )
    ingest, events, counted = run([block], tmp_path, "json", ["127.0.0.1"])
    assert (ingest.lines, ingest.malformed, ingest.corrupted) == (4, 1, 2)
    assert counted == 3
    assert sorted((e["client"], e["asn"], e["kind"]) for e in events) == [
        ("121.6.9.9", 9506, "dpi_signature"),
        ("8.8.8.8", 15169, "control_bytes"),
    ]


def test_no_table_means_unknown_not_an_error(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    attributor = Attributor(events_path=events)
    ingest = EdgeIngest(attributor)

    async def main() -> None:
        ingest.feed(combined("121.6.1.2", "/x\\x80\\x04y"))
        await attributor.start()
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    assert json.loads(events.read_text())["asn"] is None


def _free_tcp() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["tail", "x.log", "--trusted-proxy", "nonsense"], 2, "--trusted-proxy"),
        (["tail", "x.log", "--asn-table", "/nonexistent/table.tsv"], 2, "table.tsv"),
        (["tail", "x.log", "--metrics-listen", "127.0.0.1:99999"], 2, "--metrics-listen"),
        (["syslog", "--listen", "nowhere"], 2, "--listen"),
        (["tail"], 2, "FILE"),
        (["tail", "x.log", "--whois-dns", "127.0.0.1"], 2, "--whois-dns needs --whois"),
        (["tail", "x.log", "--whois", "--whois-dns", "[::1"], 2, "--whois-dns"),
    ],
)
def test_cli_refuses_bad_options_with_one_clear_line(
    args: list[str], code: int, says: str, tmp_path: Path
) -> None:
    quiet = [] if "--metrics-listen" in args else ["--metrics-listen", ""]
    proc = subprocess.run(
        [sys.executable, "-m", "middleware", "dpi-watch", *args, *quiet],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == code
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_cli_exits_1_when_the_metrics_port_is_taken(tmp_path: Path) -> None:
    with _free_tcp() as busy:
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [*DPI_WATCH, "tail", "x.log", "--metrics-listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_help_teaches_with_examples() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "middleware", "dpi-watch", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for needle in ("examples:", "dpi-watch tail", "dpi-watch syslog", "malformed", "--trusted"):
        assert needle in proc.stdout


def test_count_asns_gives_the_same_series_as_count_asn_one_by_one() -> None:
    from middleware.edge.watch import count_asns

    counts = {0: 5, 9506: 40, 15169: 7, **{64_000 + i: 1 for i in range(30)}}

    def snapshot() -> dict[str, float]:
        return {
            s.labels["asn"]: s.value
            for m in REGISTRY.collect()
            if m.name == "edgeward_requests_by_asn"
            for s in m.samples
            if s.name.endswith("_total")
        }

    deltas = []
    for apply in (
        lambda a: count_asns(a, counts),
        lambda a: [a.count_asn(asn, n) for asn, n in counts.items()],
    ):
        attributor = Attributor(top_n=2)
        before = snapshot()
        apply(attributor)
        after = snapshot()
        deltas.append({k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k)})
        assert attributor.labels.values() <= {"9506", "15169", "other", "unknown"}
    assert deltas[0] == deltas[1]
    assert sum(deltas[0].values()) == sum(counts.values())


@settings(max_examples=100)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=100),
            st.just(combined("121.6.1.2", "/ca\\x80\\x01.jpg")),
            st.just(as_json("8.8.8.8", b"/a\x80\x04b")),
        ),
        max_size=30,
    ),
    st.sampled_from(["combined", "json"]),
)
def test_ingest_never_raises_on_any_bytes(parts: list[bytes], fmt: LogFormat) -> None:
    ingest = EdgeIngest(Attributor(table=PrefixTable(TABLE), queue_size=1000), log_format=fmt)
    ingest.feed(b"".join(parts))
    ingest.flush()
    assert 0 <= ingest.malformed <= ingest.lines
    assert ingest.corrupted <= ingest.lines


def test_ipv6_clients_take_the_text_path_and_are_attributed(tmp_path: Path) -> None:
    table = PrefixTable([*TABLE, ("2400:cb00::/32", 13335)])
    attributor = Attributor(table=table, events_path=tmp_path / "e.jsonl", top_n=3)
    ingest = EdgeIngest(attributor)
    block = (
        combined("2400:cb00::7", "/") * 70
        + combined("8.8.8.8", "/") * 70
        + combined("2400:cb00::9", "/x\\x80\\x04")
    )

    async def main() -> None:
        await attributor.start()
        ingest.feed(block)
        ingest.flush()
        await attributor.drain()
        await attributor.stop()

    asyncio.run(main())
    assert ingest._asn_of == {b"2400:cb00::7": 13335, b"8.8.8.8": 15169, b"2400:cb00::9": 13335}
    event = json.loads((tmp_path / "e.jsonl").read_text())
    assert (event["client"], event["asn"]) == ("2400:cb00::9", 13335)
