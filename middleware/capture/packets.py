"""One captured frame → the TCP segment it carries (or ``None``), without a library.

Link types read: Ethernet (with any number of 802.1Q/802.1ad VLAN tags), Linux cooked
captures v1 (``-i any`` on older tcpdump) and v2 (``-i any`` on tcpdump >= 4.99), BSD
loopback (NULL/LOOP) and raw IP. Then IPv4 (options skipped, Ethernet padding trimmed by
the total length) or IPv6 (hop-by-hop, routing and destination-options headers skipped).
IP fragments are not reassembled (TCP over fragments is rare and a DPI box does not
produce them); they are counted by the caller as frames without a segment.

Anything short or inconsistent is ``None``, never an exception: the input is whatever a
capture file holds, and :mod:`tests.middleware.capture.test_packets` fuzzes it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

# LINKTYPE_* values (https://www.tcpdump.org/linktypes.html)
LINK_NULL: Final = 0
LINK_ETHERNET: Final = 1
LINK_RAW: Final = 101
LINK_LOOP: Final = 108
LINK_SLL: Final = 113
LINK_IPV4: Final = 228
LINK_IPV6: Final = 229
LINK_SLL2: Final = 276
# DLT_RAW's platform-specific numbers that some writers still put in files.
_RAW_ALIASES: Final = (12, 14)
SUPPORTED: Final = frozenset(_RAW_ALIASES) | frozenset(
    (LINK_NULL, LINK_ETHERNET, LINK_RAW, LINK_LOOP, LINK_SLL, LINK_IPV4, LINK_IPV6, LINK_SLL2)
)

_ETH_IPV4: Final = 0x0800
_ETH_IPV6: Final = 0x86DD
_VLAN_TAGS: Final = frozenset((0x8100, 0x88A8, 0x9100))
_IPV6_SKIPPABLE: Final = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_TCP: Final = 6
_MF_OR_OFFSET: Final = 0x3FFF

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10

_TCP_HEAD: Final = struct.Struct("!HHIIBB")  # ports, seq, ack, data offset, flags


@dataclass(frozen=True, slots=True)
class Segment:
    """A TCP segment and what the IP header around it said."""

    src: bytes  # packed address (4 or 16 bytes)
    dst: bytes
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes
    ttl: int  # IPv4 TTL or IPv6 hop limit
    ip_id: int | None  # IPv4 only
    truncated: bool  # the capture holds fewer bytes than the IP header announced
    # For the checksum, computed only for the rare segment an event points at:
    frame: bytes
    ip_start: int
    tcp_start: int
    tcp_end: int


def _ip_start(linktype: int, frame: bytes) -> tuple[int, int] | None:
    """``(offset of the IP header, ethertype or 0 for "look at the version nibble")``."""
    if linktype == LINK_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = (frame[12] << 8) | frame[13]
        off = 14
        while ethertype in _VLAN_TAGS:
            if len(frame) < off + 4:
                return None
            ethertype = (frame[off + 2] << 8) | frame[off + 3]
            off += 4
        return off, ethertype
    if linktype == LINK_SLL:
        if len(frame) < 16:
            return None
        return 16, (frame[14] << 8) | frame[15]
    if linktype == LINK_SLL2:
        if len(frame) < 20:
            return None
        return 20, (frame[0] << 8) | frame[1]
    if linktype in (LINK_NULL, LINK_LOOP):
        return 4, 0
    return 0, 0  # raw IP


def decode(linktype: int, frame: bytes) -> Segment | None:
    """The TCP segment in ``frame``, or ``None`` (not TCP, a fragment, short, malformed)."""
    start = _ip_start(linktype, frame)
    if start is None:
        return None
    off, ethertype = start
    if len(frame) < off + 20:
        return None
    version = frame[off] >> 4
    if ethertype == _ETH_IPV4 or (ethertype == 0 and version == 4):
        return _ipv4(frame, off)
    if ethertype == _ETH_IPV6 or (ethertype == 0 and version == 6):
        return _ipv6(frame, off)
    return None


def _ipv4(frame: bytes, off: int) -> Segment | None:
    if frame[off] >> 4 != 4 or frame[off + 9] != _TCP:
        return None
    ihl = (frame[off] & 0x0F) * 4
    total = (frame[off + 2] << 8) | frame[off + 3]
    if ihl < 20 or total < ihl:
        return None
    if ((frame[off + 6] << 8) | frame[off + 7]) & _MF_OR_OFFSET:
        return None  # a fragment
    end = off + total
    return _tcp(
        frame,
        off,
        off + ihl,
        end,
        src=frame[off + 12 : off + 16],
        dst=frame[off + 16 : off + 20],
        ttl=frame[off + 8],
        ip_id=(frame[off + 4] << 8) | frame[off + 5],
    )


def _ipv6(frame: bytes, off: int) -> Segment | None:
    if len(frame) < off + 40 or frame[off] >> 4 != 6:
        return None
    end = off + 40 + ((frame[off + 4] << 8) | frame[off + 5])
    nxt = frame[off + 6]
    pos = off + 40
    while nxt in _IPV6_SKIPPABLE:
        if len(frame) < pos + 8:
            return None
        nxt = frame[pos]
        pos += (frame[pos + 1] + 1) * 8
    if nxt != _TCP:
        return None  # a fragment header (44) ends up here too
    return _tcp(
        frame,
        off,
        pos,
        end,
        src=frame[off + 8 : off + 24],
        dst=frame[off + 24 : off + 40],
        ttl=frame[off + 7],
        ip_id=None,
    )


def _tcp(
    frame: bytes,
    ip: int,
    tcp: int,
    end: int,
    *,
    src: bytes,
    dst: bytes,
    ttl: int,
    ip_id: int | None,
) -> Segment | None:
    if len(frame) < tcp + 20 or end < tcp + 20:
        return None
    sport, dport, seq, _ack, doff, flags = _TCP_HEAD.unpack_from(frame, tcp)
    data = tcp + (doff >> 4) * 4
    if data < tcp + 20 or data > end:
        return None
    truncated = len(frame) < end
    return Segment(
        src,
        dst,
        sport,
        dport,
        seq,
        flags,
        frame[data:end],
        ttl,
        ip_id,
        truncated,
        frame,
        ip,
        tcp,
        end,
    )


def checksum_valid(seg: Segment) -> bool | None:
    """Whether the TCP checksum matches; ``None`` when the capture cut the segment short.

    The one's-complement sum of 16-bit words is the big-endian integer modulo 0xFFFF
    (2**16 is 1 modulo 0xFFFF), so a segment whose checksum is right sums to 0 modulo
    0xFFFF (the pseudo-header's protocol number keeps the sum from being all zeros).
    """
    if seg.truncated:
        return None
    tcp = seg.frame[seg.tcp_start : seg.tcp_end]
    pseudo = seg.src + seg.dst + struct.pack("!HH", _TCP, len(tcp))
    if len(seg.src) == 16:
        pseudo = seg.src + seg.dst + struct.pack("!IxxxB", len(tcp), _TCP)
    data = pseudo + tcp + (b"\0" if len(tcp) % 2 else b"")
    return int.from_bytes(data, "big") % 0xFFFF == 0
