"""Frames → TCP segments for every link type read; checksums; arbitrary bytes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from middleware.capture.packets import (
    LINK_ETHERNET,
    LINK_IPV4,
    LINK_IPV6,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    LINK_SLL,
    LINK_SLL2,
    SUPPORTED,
    checksum_valid,
    decode,
)
from tests.support.pcapgen import ACK, PSH, Packet, link

V4 = Packet(
    "203.0.113.7",
    "192.0.2.80",
    40000,
    80,
    123456,
    ACK | PSH,
    b"GET / HTTP/1.1\r\n\r\n",
    ttl=51,
    ip_id=777,
)
V6 = replace(V4, src="2001:db8::7", dst="2001:db8::80")


@pytest.mark.parametrize(
    ("linktype", "packet", "vlans"),
    [
        (LINK_ETHERNET, V4, ()),
        (LINK_ETHERNET, V6, ()),
        (LINK_ETHERNET, V4, (10,)),
        (LINK_ETHERNET, V6, (10, 20)),
        (LINK_SLL, V4, ()),
        (LINK_SLL2, V6, ()),
        (LINK_NULL, V6, ()),
        (LINK_LOOP, V4, ()),
        (LINK_RAW, V4, ()),
        (LINK_RAW, V6, ()),
    ],
)
def test_decode(linktype: int, packet: Packet, vlans: tuple[int, ...]) -> None:
    seg = decode(linktype, link(linktype, packet.ip(), vlans=vlans) + b"\0" * 6)  # + padding
    assert seg is not None
    v6 = ":" in packet.src
    assert (seg.sport, seg.dport, seg.seq, seg.flags) == (40000, 80, 123456, ACK | PSH)
    assert (seg.payload, seg.ttl, seg.ip_id, seg.truncated) == (
        packet.data,
        51,
        None if v6 else 777,
        False,
    )
    assert len(seg.src) == (16 if v6 else 4)
    assert checksum_valid(seg) is True
    bad = decode(linktype, link(linktype, replace(packet, bad_checksum=True).ip(), vlans=vlans))
    assert bad is not None and checksum_valid(bad) is False


def test_ipv4_and_ipv6_link_types() -> None:
    assert decode(LINK_IPV4, V4.ip()) is not None
    assert decode(LINK_IPV6, V6.ip()) is not None


@pytest.mark.parametrize(
    ("name", "frame"),
    [
        ("IPv4 fragment", lambda ip: ip[:6] + b"\x20\x00" + ip[8:]),
        ("UDP", lambda ip: ip[:9] + b"\x11" + ip[10:]),
        ("IPv6 fragment header", lambda ip: ip[:6] + b"\x2c" + ip[7:]),
        ("short", lambda ip: ip[:30]),
        (
            "TCP data offset past the end",
            lambda ip: ip[: ip.index(b"GET") - 8] + b"\xf0" + ip[ip.index(b"GET") - 7 :],
        ),
    ],
)
def test_not_a_segment(name: str, frame: object) -> None:
    packet = V6 if "IPv6" in name else V4
    assert decode(LINK_RAW, frame(packet.ip())) is None  # type: ignore[operator]


def test_a_segment_cut_by_the_snap_length() -> None:
    seg = decode(LINK_RAW, V4.ip()[:-4])
    assert seg is not None and seg.truncated and checksum_valid(seg) is None
    assert seg.payload == V4.data[:-4]


@given(st.sampled_from(sorted(SUPPORTED)), st.binary(max_size=120))
def test_arbitrary_bytes_never_raise(linktype: int, data: bytes) -> None:
    seg = decode(linktype, data)
    if seg is not None:
        assert checksum_valid(seg) in (True, False, None)
