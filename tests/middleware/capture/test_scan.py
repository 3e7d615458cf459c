"""Synthetic captures of what loopback cannot produce, one table row each.

Every row writes a capture with dpkt's writer, reads it with :func:`read_capture`, and
checks the request lines found (client, line) and the corrupted ones (client, kind, field).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.capture import CaptureError, read_capture
from middleware.capture.packets import (
    LINK_ETHERNET,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    LINK_SLL,
    LINK_SLL2,
)
from middleware.capture.proxy import V2_SIGNATURE
from tests.support.pcapgen import ACK, PSH, Packet, conversation, retimed, split, write

C4, S4 = "203.0.113.7", "192.0.2.80"
C6, S6 = "2001:db8::7", "2001:db8::80"
CLEAN = b"GET /index.html HTTP/1.1\r\nHost: shop.example\r\n\r\n"
BAD1 = b"GET /media/IMG_\x80\x01.jpg?w=640 HTTP/1.1\r\nHost: shop.example\r\n\r\n"
BAD4 = b"GET /api/v1/\x80\x04ders HTTP/1.1\r\nHost: shop.example\r\n\r\n"
LINE_CLEAN = b"GET /index.html HTTP/1.1"
LINE_BAD1 = b"GET /media/IMG_\x80\x01.jpg?w=640 HTTP/1.1"
LINE_BAD4 = b"GET /api/v1/\x80\x04ders HTTP/1.1"
REFERER = b"GET /r HTTP/1.1\r\nReferer: https://shop.example/\x80\x01x\r\n\r\n"
COOKIE = b"GET /c HTTP/1.1\r\nCookie: a=1; b=%80%04zz\r\n\r\n"
POST = b"POST /upload HTTP/1.1\r\nContent-Length: 6\r\n\r\n\x80\x01\x80\x04ab"
CHUNKED = (
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\x80\x01\x80\x04\r\n0\r\n\r\n"
)
TLS_HELLO = b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03" + b"\x80\x01" * 22


@dataclass
class Row:
    name: str
    packets: list[Packet]
    lines: list[tuple[str, bytes]]
    events: list[tuple[str, str, str]]  # (client, kind, field)
    link: int = LINK_ETHERNET
    fmt: str = "pcap"
    gz: bool = False
    vlans: tuple[int, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)


def _swap(packets: list[Packet], i: int, j: int) -> list[Packet]:
    out = list(packets)
    out[i], out[j] = out[j], out[i]
    return retimed(out)


_base = conversation(C4, S4, [CLEAN, BAD1])
_split = conversation(C4, S4, split(BAD1 + CLEAN + BAD4, 10, 6, 30, 40, 3))
_retrans = conversation(C4, S4, split(CLEAN + BAD1, 20, 30, 25))
# Data packets are at 2, 4, 6, ... (server ACKs in between).
_retrans_extra = [
    *_retrans[:5],
    _retrans[2],
    replace(_retrans[4], data=_retrans[4].data + _retrans[6].data[:5]),
]

ROWS = [
    Row(
        "pipelined in one segment, IPv4 over Ethernet",
        conversation(C4, S4, [CLEAN + BAD1 + BAD4]),
        [(C4, LINE_CLEAN), (C4, LINE_BAD1), (C4, LINE_BAD4)],
        [(C4, "dpi_signature", "request-line"), (C4, "dpi_signature", "request-line")],
        stats={"requests": 3, "connections": 1, "http": 1},
    ),
    Row(
        "requests split across segments, the damage cut in half",
        _split,
        [(C4, LINE_BAD1), (C4, LINE_CLEAN), (C4, LINE_BAD4)],
        [(C4, "dpi_signature", "request-line"), (C4, "dpi_signature", "request-line")],
    ),
    Row(
        "out-of-order segments",
        _swap(_split, 2, 6),
        [(C4, LINE_BAD1), (C4, LINE_CLEAN), (C4, LINE_BAD4)],
        [(C4, "dpi_signature", "request-line"), (C4, "dpi_signature", "request-line")],
    ),
    Row(
        "retransmissions, one of them overlapping",
        retimed([*_retrans_extra, *_retrans[5:]]),
        [(C4, LINE_CLEAN), (C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
    ),
    Row(
        "IPv6",
        conversation(C6, S6, [BAD4, CLEAN]),
        [(C6, LINE_BAD4), (C6, LINE_CLEAN)],
        [(C6, "dpi_signature", "request-line")],
    ),
    Row(
        "VLAN tag",
        _base,
        [(C4, LINE_CLEAN), (C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
        vlans=(42,),
    ),
    Row(
        "two VLAN tags (QinQ), IPv6",
        conversation(C6, S6, [BAD1]),
        [(C6, LINE_BAD1)],
        [(C6, "dpi_signature", "request-line")],
        vlans=(7, 42),
    ),
    Row(
        "Linux cooked capture v1 (-i any, older tcpdump)",
        _base,
        [(C4, LINE_CLEAN), (C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
        link=LINK_SLL,
    ),
    Row(
        "Linux cooked capture v2 (-i any), pcapng, gzipped",
        conversation(C6, S6, [CLEAN, BAD1]),
        [(C6, LINE_CLEAN), (C6, LINE_BAD1)],
        [(C6, "dpi_signature", "request-line")],
        link=LINK_SLL2,
        fmt="pcapng",
        gz=True,
    ),
    Row(
        "raw IP",
        _base,
        [(C4, LINE_CLEAN), (C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
        link=LINK_RAW,
    ),
    Row(
        "BSD loopback (NULL)",
        _base,
        [(C4, LINE_CLEAN), (C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
        link=LINK_NULL,
    ),
    Row(
        "OpenBSD loopback (LOOP)",
        _base,
        [(C4, LINE_CLEAN), (C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
        link=LINK_LOOP,
    ),
    Row(
        "Referer and a percent-encoded Cookie",
        conversation(C4, S4, [REFERER + COOKIE]),
        [(C4, b"GET /r HTTP/1.1"), (C4, b"GET /c HTTP/1.1")],
        [(C4, "dpi_signature", "referer"), (C4, "dpi_signature", "cookie")],
    ),
    Row(
        "bodies (Content-Length, chunked) are skipped, not classified",
        conversation(C4, S4, [POST + CHUNKED + CLEAN]),
        [(C4, b"POST /upload HTTP/1.1"), (C4, b"POST /c HTTP/1.1"), (C4, LINE_CLEAN)],
        [],
    ),
    Row(
        "PROXY protocol v1: the client is the balancer's",
        conversation(
            S4, S4, [b"PROXY TCP4 198.51.100.9 192.0.2.80 5555 80\r\n" + BAD1], sport=41000
        ),
        [("198.51.100.9", LINE_BAD1)],
        [("198.51.100.9", "dpi_signature", "request-line")],
    ),
    Row(
        "PROXY protocol v2 (IPv6 client)",
        conversation(
            S4,
            S4,
            [
                V2_SIGNATURE
                + b"\x21\x21\x00\x24"
                + bytes(range(1, 17))
                + bytes(16)
                + b"\x15\xb3\x00\x50",
                BAD4,
            ],
            sport=41001,
        ),
        [("102:304:506:708:90a:b0c:d0e:f10", LINE_BAD4)],
        [("102:304:506:708:90a:b0c:d0e:f10", "dpi_signature", "request-line")],
    ),
    Row(
        "TLS is counted, never looked into",
        conversation(C4, S4, [TLS_HELLO], dport=443),
        [],
        [],
        stats={"tls": 1, "requests": 0, "http": 0, "other": 0},
    ),
    Row(
        "not HTTP: counted as other",
        conversation(C4, S4, [b"SSH-2.0-OpenSSH_9.2\r\n", b"\x00\x00\x01\x0c\x80\x01"], dport=22),
        [],
        [],
        stats={"connections": 1, "other": 1, "http": 0, "tls": 0},
    ),
    Row(
        "damage in the method of a connection's first request",
        conversation(C4, S4, [b"\x80\x01T /a HTTP/1.1\r\n", b"Host: x\r\n\r\n" + CLEAN]),
        [(C4, b"\x80\x01T /a HTTP/1.1"), (C4, LINE_CLEAN)],
        [(C4, "dpi_signature", "request-line")],
    ),
    Row(
        "joined midway: the rest of a request is skipped, the next one read",
        conversation(C4, S4, [b"age.jpg HTTP/1.1\r\nHost: x\r\n\r\n", BAD1], handshake=False),
        [(C4, LINE_BAD1)],
        [(C4, "dpi_signature", "request-line")],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_synthetic_capture(row: Row, tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.pcap",
        row.packets,
        linktype=row.link,
        fmt=row.fmt,
        gz=row.gz,
        vlans=row.vlans,
    )
    result = read_capture(path, keep_lines=True)
    assert result.lines == row.lines
    got = [(e.client, e.finding.kind, e.evidence.field) for e in result.events]
    assert got == row.events
    assert sum(result.clients.values()) == len(row.lines)
    for name, value in row.stats.items():
        assert getattr(result.stats, name) == value, name


def test_damaged_segment_evidence(tmp_path: Path) -> None:
    """A middlebox's rewrite: other TTL and IP ID, wrong checksum, next to the client's own."""
    packets = conversation(C4, S4, split(CLEAN + BAD1, len(CLEAN), 12), ttl=57)
    # frames: 1 SYN, 2 SYN-ACK, 3 data, 4 ack, 5 data (BAD1's first 12 bytes), 6 ack,
    # 7 the damaged rest, 8 ack, 9 FIN
    packets[6] = replace(packets[6], ttl=61, ip_id=0x4242, bad_checksum=True)
    # Another host behind the same address (NAT), further away.
    nat = conversation(C4, S4, [CLEAN], sport=40001, ttl=45, t0=1_700_000_001.0)
    path = write(tmp_path / "in.pcap", packets + nat)
    (event,) = read_capture(path).events
    ev = event.evidence
    assert (ev.frame, ev.frames, ev.ttl, ev.ip_id, ev.checksum) == (
        7,
        (5, 7),
        61,
        0x4242,
        "invalid",
    )
    assert ev.stream_ttls == {57: 4}  # SYN, two data segments, FIN
    assert ev.peer_ttls == {45: 3, 57: 4}
    assert (ev.stream, ev.client, ev.server, ev.field) == (
        0,
        f"{C4}:40000",
        f"{S4}:80",
        "request-line",
    )
    assert event.target == b"/media/IMG_\x80\x01.jpg?w=640"
    assert event.time == pytest.approx(packets[6].time, abs=1e-5)
    assert event.finding.evidence_hex == BAD1[7:23].hex()  # 8 bytes either side of 0x80


def test_checksum_valid_and_stream_numbers(tmp_path: Path) -> None:
    first = conversation(C4, S4, [CLEAN], sport=40001)
    second = conversation(C6, S6, [BAD1], sport=40002)
    path = write(tmp_path / "in.pcap", retimed(first + second))
    (event,) = read_capture(path).events
    assert (event.evidence.stream, event.evidence.checksum, event.evidence.ip_id) == (
        1,
        "valid",
        None,
    )


def test_snap_length_makes_the_checksum_unknown(tmp_path: Path) -> None:
    path = write(tmp_path / "in.pcap", conversation(C4, S4, [BAD1 + b"x" * 200]), snaplen=120)
    result = read_capture(path)
    (event,) = result.events
    assert event.evidence.checksum == "unknown"
    assert result.stats.snapped == 1


def test_idle_connections_are_flushed_and_an_incomplete_head_counts(tmp_path: Path) -> None:
    # Not closed, head never finished; a later connection an hour on sweeps it out.
    stale = conversation(C4, S4, [b"GET /\x80\x01 HTTP/1.1\r\nHost: x\r\n"], fin=False)
    later = conversation(C6, S6, [CLEAN], t0=1_700_003_600.0)
    path = write(tmp_path / "in.pcap", stale + later)
    result = read_capture(path, idle_seconds=60, keep_lines=True)
    assert result.lines == [(C4, b"GET /\x80\x01 HTTP/1.1"), (C6, LINE_CLEAN)]
    assert [e.client for e in result.events] == [C4]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_order_and_duplicates_give_the_in_order_requests(data: st.DataObject) -> None:
    """SYN first (it always precedes data), then data segments shuffled and repeated."""
    stream = BAD1 + CLEAN + POST + BAD4 + CHUNKED + REFERER
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=25)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    packets = [p for p in conversation(C4, S4, chunks, fin=False) if p.src == C4]
    syn, segs = packets[0], packets[1:]
    extra = data.draw(st.lists(st.sampled_from(segs), max_size=10))
    order = data.draw(st.permutations(segs + extra))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        want = read_capture(write(Path(tmp) / "a.pcap", [syn, *segs]), keep_lines=True)
        got = read_capture(write(Path(tmp) / "b.pcap", retimed([syn, *order])), keep_lines=True)
    assert got.lines == want.lines
    assert len(want.lines or []) == 6
    assert [e.evidence.field for e in got.events] == [e.evidence.field for e in want.events]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"]))
def test_arbitrary_bytes_give_a_result_or_capture_error(data: bytes, magic: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.pcap"
        path.write_bytes(magic + data)
        try:
            result = read_capture(path)
        except CaptureError:
            return
    assert result.stats.frames >= 0


def test_a_file_cut_in_the_middle_of_a_record_is_read_up_to_there(tmp_path: Path) -> None:
    path = write(tmp_path / "in.pcap", conversation(C4, S4, [BAD1, CLEAN]))
    data = path.read_bytes()
    path.write_bytes(data[:-30])
    result = read_capture(path)
    assert len(result.events) == 1
    assert result.stats.cut_short or result.stats.frames < 9


def test_data_packets_are_the_client_ones() -> None:
    # Guards the table's assumption about frame order in conversation().
    packets = conversation(C4, S4, [CLEAN])
    assert [p.flags & (ACK | PSH) for p in packets][2] == ACK | PSH


@pytest.mark.parametrize(("trusted", "client"), [(True, "198.51.100.9"), (False, S4)])
def test_a_proxy_header_counts_only_from_a_trusted_peer(
    tmp_path: Path, trusted: bool, client: str
) -> None:
    header = b"PROXY TCP4 198.51.100.9 192.0.2.80 5555 80\r\n"
    path = write(tmp_path / "in.pcap", conversation(S4, S4, [header + BAD1], sport=41000))
    (event,) = read_capture(path, trusts=lambda peer: trusted and peer == S4).events
    assert (event.client, event.evidence.proxied) == (client, trusted)


def test_connections_beyond_the_bound_are_flushed_not_lost(tmp_path: Path) -> None:
    from middleware.capture.files import open_frames
    from middleware.capture.packets import decode
    from middleware.capture.scan import CaptureStats, Scanner

    # 50 connections, each left open with a complete request: at most 10 are kept.
    packets = [
        p
        for i in range(50)
        for p in conversation(C4, S4, [BAD1 if i % 7 == 0 else CLEAN], sport=30000 + i, fin=False)
    ]
    frames = open_frames(write(tmp_path / "in.pcap", retimed(packets)))
    scanner = Scanner(CaptureStats("pcap", False, 1), max_connections=10, keep_lines=True)
    for n, (ts, buf) in enumerate(frames, 1):
        scanner.frame(n, ts, decode(frames.linktype, buf))
        assert len(scanner._sides) <= 10
    result = scanner.finish()
    assert len(result.lines or []) == 50
    assert sorted(e.evidence.stream for e in result.events) == [0, 7, 14, 21, 28, 35, 42, 49]


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([LINK_ETHERNET, LINK_SLL, LINK_SLL2, LINK_RAW, LINK_NULL]),
    st.lists(st.binary(max_size=200), max_size=20),
    st.booleans(),
)
def test_arbitrary_frames_in_a_valid_file_never_raise(
    linktype: int, frames: list[bytes], ng: bool
) -> None:
    import io
    import tempfile

    import dpkt.pcap
    import dpkt.pcapng

    buf = io.BytesIO()
    writer = (dpkt.pcapng.Writer if ng else dpkt.pcap.Writer)(buf, linktype=linktype)
    good = [p.ip() for p in conversation(C4, S4, [BAD1])]
    for i, frame in enumerate(frames):
        # Half real IP packets with arbitrary link bytes in front, half anything at all.
        writer.writepkt(frame[:16] + good[i % len(good)] if i % 2 else frame, ts=1.0 + i)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.pcap"
        path.write_bytes(buf.getvalue())
        result = read_capture(path)
    assert result.stats.frames == len(frames)


def test_a_reused_port_is_a_new_connection(tmp_path: Path) -> None:
    first = conversation(C4, S4, [CLEAN], isn=1000)
    again = conversation(C4, S4, [BAD1], isn=90000, t0=1_700_000_001.0)
    retransmitted_syn = [again[0], *again]  # a SYN sent twice is still one connection
    path = write(tmp_path / "in.pcap", first + retransmitted_syn)
    result = read_capture(path, keep_lines=True)
    assert result.lines == [(C4, LINE_CLEAN), (C4, LINE_BAD1)]
    assert [e.evidence.stream for e in result.events] == [1]
    assert result.stats.connections == 2
