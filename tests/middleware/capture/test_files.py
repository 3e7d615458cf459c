"""Capture files: recognised by their magic bytes (also inside gzip), read with dpkt, and
one clear error for anything else. Captures are written with dpkt's writer."""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import pytest

from middleware.capture.files import CaptureError, Frames, format_of, open_frames, sniff
from middleware.capture.packets import LINK_ETHERNET, LINK_RAW
from tests.support.pcapgen import conversation, write

C4, S4 = "203.0.113.7", "192.0.2.80"
CLEAN = b"GET /index.html HTTP/1.1\r\nHost: shop.example\r\n\r\n"


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xa1\xb2\xc3\xd4", "pcap"),  # microseconds, big-endian
        (b"\xd4\xc3\xb2\xa1", "pcap"),  # little-endian
        (b"\xa1\xb2\x3c\x4d", "pcap"),  # nanoseconds
        (b"\x4d\x3c\xb2\xa1", "pcap"),
        (b"\xa1\xb2\xcd\x34", "pcap"),  # "modified" pcap
        (b"\x0a\x0d\x0d\x0a", "pcapng"),
        (b"\x1f\x8b\x08\x00", None),  # gzip is not itself a capture format
        (b"GET ", None),
        (b"\xd4\xc3\xb2", None),  # too short
        (b"", None),
    ],
)
def test_format_of(head: bytes, fmt: str | None) -> None:
    assert format_of(head) == fmt


@pytest.mark.parametrize(
    ("fmt", "gzipped"),
    [("pcap", False), ("pcap", True), ("pcapng", False), ("pcapng", True)],
)
def test_sniff_and_open_real_captures(tmp_path: Path, fmt: str, gzipped: bool) -> None:
    path = write(tmp_path / "in.cap", conversation(C4, S4, [CLEAN]), fmt=fmt, gz=gzipped)
    assert sniff(path) == (fmt, gzipped)
    frames = open_frames(path)
    assert (frames.format, frames.gzipped, frames.linktype) == (fmt, gzipped, LINK_ETHERNET)
    got = list(frames)
    assert len(got) >= 4 and all(isinstance(t, float) and data for t, data in got)
    assert frames.cut_short == ""
    assert frames.position() == 0  # closed once read


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GET / HTTP/1.1\r\n",
        gzip.compress(b"GET / HTTP/1.1\r\n", mtime=0),
        b"\x1f\x8b not gzip",
    ],
)
def test_sniff_says_none_for_what_is_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x"
    path.write_bytes(content)
    assert sniff(path) is None


def test_sniff_a_missing_file_is_none(tmp_path: Path) -> None:
    assert sniff(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a pcap or pcapng file"),
        (b"GET / HTTP/1.1\r\n", "not a pcap or pcapng file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "not a readable pcap file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(12) + b"\x69\x00\x00\x00", "link type 105"),
    ],
)
def test_open_frames_refuses_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=message) as exc:
        open_frames(path)
    assert str(exc.value).startswith(str(path)) and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("fmt", "cut"),
    [
        ("pcap", 62),  # the last record's header is half there
        ("pcap", 10),  # the last record's frame is cut: not handed over as a short frame
        ("pcap", 1),
        ("pcapng", 30),  # the last block is half there
        ("pcapng", 62),
    ],
)
def test_a_file_cut_short_is_read_up_to_there(tmp_path: Path, fmt: str, cut: int) -> None:
    """A capture copied while tcpdump was writing: the whole frames, and why it stopped."""
    path = write(tmp_path / "in.cap", conversation(C4, S4, [CLEAN, CLEAN]), fmt=fmt)
    whole = [data for _, data in open_frames(path)]
    path.write_bytes(path.read_bytes()[:-cut])
    frames = open_frames(path)
    got = [data for _, data in frames]
    assert got == whole[:-1]
    assert frames.cut_short


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("order", ["<", ">"])
def test_a_record_claiming_more_than_any_frame_stops_the_read(
    tmp_path: Path, order: str, gz: bool
) -> None:
    """A corrupt record length is reported, not read (4 GiB would be allocated at once)."""
    ok = bytes(range(60))  # any frame: this layer does not parse them
    header = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINK_ETHERNET)
    body = struct.pack(order + "IIII", 1, 0, len(ok), len(ok)) + ok
    body += struct.pack(order + "IIII", 2, 0, 0xFFFFFFFF, 0xFFFFFFFF) + ok
    content = header + body
    path = tmp_path / "x.pcap"
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    frames = open_frames(path)
    assert [data for _, data in frames] == [ok]
    assert "4294967295 bytes" in frames.cut_short


@pytest.mark.parametrize(
    ("magic", "header", "divisor"),
    [
        (0xA1B2C3D4, "IIII", 1e6),
        (0xA1B23C4D, "IIII", 1e9),  # nanoseconds
        (0xA1B2CD34, "IIII8x", 1e6),  # "modified" pcap: 24-byte record headers
    ],
)
@pytest.mark.parametrize("order", ["<", ">"])
def test_every_pcap_flavour_reads_its_records(
    tmp_path: Path, magic: int, header: str, divisor: float, order: str
) -> None:
    frames_in = [bytes(range(60)), bytes(range(100, 180))]
    content = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, LINK_ETHERNET)
    for i, frame in enumerate(frames_in):
        content += struct.pack(order + header, 1000 + i, 250, len(frame), len(frame)) + frame
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    frames = open_frames(path)
    assert list(frames) == [(1000 + i + 250 / divisor, f) for i, f in enumerate(frames_in)]
    assert frames.cut_short == ""


def test_position_follows_the_bytes_read(tmp_path: Path) -> None:
    path = write(tmp_path / "in.pcap", conversation(C4, S4, [CLEAN] * 20))
    frames = open_frames(path)
    assert isinstance(frames, Frames)
    positions = []
    for _ in frames:
        positions.append(frames.position())
    assert positions == sorted(positions) and positions[0] > 0
    frames.close()


def test_raw_ip_link(tmp_path: Path) -> None:
    path = write(tmp_path / "in.pcap", conversation(C4, S4, [CLEAN]), linktype=LINK_RAW)
    assert open_frames(path).linktype == LINK_RAW


def test_without_dpkt_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "in.pcap", conversation(C4, S4, [CLEAN]))
    monkeypatch.setitem(sys.modules, "dpkt", None)
    monkeypatch.setitem(sys.modules, "dpkt.pcap", None)
    with pytest.raises(CaptureError, match=r"edgeward\[capture\]"):
        open_frames(path)
