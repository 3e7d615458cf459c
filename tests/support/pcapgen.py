"""Synthetic captures for the tests, built with dpkt's packet classes and writers.

A conversation is a list of :class:`Packet` (one IP packet each, as the client or the
server sent it); :func:`frames` wraps them in a link layer and :func:`write` writes a pcap
or pcapng file (optionally gzipped). Packets are built field by field with dpkt, which
computes the IP and TCP checksums, unless a test asks for a wrong one.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import dpkt
import dpkt.ethernet
import dpkt.ip
import dpkt.ip6
import dpkt.pcap
import dpkt.pcapng
import dpkt.sll
import dpkt.sll2
import dpkt.tcp

from middleware.capture.packets import (
    LINK_ETHERNET,
    LINK_LOOP,
    LINK_NULL,
    LINK_RAW,
    LINK_SLL,
    LINK_SLL2,
)

SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    flags: int
    data: bytes = b""
    ttl: int = 64
    ip_id: int = 1
    bad_checksum: bool = False
    time: float = 1_700_000_000.0

    def ip(self) -> bytes:
        tcp = dpkt.tcp.TCP(
            sport=self.sport, dport=self.dport, seq=self.seq, flags=self.flags, data=self.data
        )
        src = ipaddress.ip_address(self.src)
        dst = ipaddress.ip_address(self.dst)
        if src.version == 6:
            pkt6 = dpkt.ip6.IP6(src=src.packed, dst=dst.packed, nxt=6, hlim=self.ttl, data=tcp)
            pkt6.plen = len(tcp)
            raw = bytes(pkt6)
            tcp_at = 40
        else:
            pkt = dpkt.ip.IP(src=src.packed, dst=dst.packed, p=6, ttl=self.ttl, id=self.ip_id)
            pkt.data = tcp
            pkt.len = 20 + len(tcp)
            raw = bytes(pkt)
            tcp_at = 20
        if self.bad_checksum:
            good = struct.unpack_from("!H", raw, tcp_at + 16)[0]
            raw = raw[: tcp_at + 16] + struct.pack("!H", good ^ 0x5A5A) + raw[tcp_at + 18 :]
        return raw


def conversation(
    client: str,
    server: str,
    chunks: list[bytes],
    *,
    sport: int = 40000,
    dport: int = 80,
    isn: int = 1000,
    handshake: bool = True,
    fin: bool = True,
    ttl: int = 64,
    t0: float = 1_700_000_000.0,
) -> list[Packet]:
    """Client → server: handshake, one data segment per chunk, FIN; server ACKs omitted."""
    out: list[Packet] = []
    seq = isn
    t = t0
    if handshake:
        out.append(Packet(client, server, sport, dport, seq, SYN, ttl=ttl, time=t))
        out.append(Packet(server, client, dport, sport, 5000, SYN | ACK, ttl=64, time=t))
        seq += 1
    for i, chunk in enumerate(chunks):
        t += 0.001
        out.append(
            Packet(
                client, server, sport, dport, seq, ACK | PSH, chunk, ttl=ttl, ip_id=i + 2, time=t
            )
        )
        out.append(
            Packet(server, client, dport, sport, 5001, ACK, b"HTTP/1.1 200 OK\r\n\r\n", time=t)
        )
        seq += len(chunk)
    if fin:
        out.append(Packet(client, server, sport, dport, seq, FIN | ACK, ttl=ttl, time=t + 0.001))
    return out


def split(data: bytes, *sizes: int) -> list[bytes]:
    out, pos = [], 0
    for n in sizes:
        out.append(data[pos : pos + n])
        pos += n
    if pos < len(data):
        out.append(data[pos:])
    return out


def link(linktype: int, ip: bytes, *, vlans: tuple[int, ...] = ()) -> bytes:
    """Wrap an IP packet in ``linktype``'s header (dpkt's classes where it has them)."""
    v6 = ip[0] >> 4 == 6
    ethertype = 0x86DD if v6 else 0x0800
    if linktype == LINK_ETHERNET:
        tags = b"".join(struct.pack("!HH", 0x8100, vid) for vid in vlans)
        eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=ethertype)
        head = bytes(eth)[:12]
        return head + tags + struct.pack("!H", ethertype) + ip
    if linktype == LINK_SLL:
        return bytes(dpkt.sll.SLL(type=0, hrd=772, hlen=6, ethtype=ethertype)) + ip
    if linktype == LINK_SLL2:
        return bytes(dpkt.sll2.SLL2(ethtype=ethertype, intindex=1, hrd=772)) + ip
    if linktype == LINK_NULL:
        return struct.pack("<I", 30 if v6 else 2) + ip
    if linktype == LINK_LOOP:
        return struct.pack("!I", 30 if v6 else 2) + ip
    if linktype == LINK_RAW:
        return ip
    raise ValueError(linktype)


def write(
    path: Path,
    packets: list[Packet],
    *,
    linktype: int = LINK_ETHERNET,
    fmt: str = "pcap",
    gz: bool = False,
    vlans: tuple[int, ...] = (),
    snaplen: int = 65535,
) -> Path:
    buf = io.BytesIO()
    writer = (
        dpkt.pcap.Writer(buf, snaplen=snaplen, linktype=linktype)
        if fmt == "pcap"
        else dpkt.pcapng.Writer(buf, snaplen=snaplen, linktype=linktype)
    )
    for p in packets:
        frame = link(linktype, p.ip(), vlans=vlans)
        writer.writepkt(frame[:snaplen], ts=p.time)
    data = buf.getvalue()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def retimed(packets: list[Packet]) -> list[Packet]:
    """The same packets with times increasing in list order (after a reordering)."""
    t0 = min(p.time for p in packets)
    return [replace(p, time=t0 + i * 0.001) for i, p in enumerate(packets)]
