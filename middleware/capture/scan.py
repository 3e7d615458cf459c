"""A capture → request counts per client and the corrupted requests, with their evidence.

Each TCP connection's client side is reassembled (:mod:`~middleware.capture.reassembly`)
and cut into request heads (:mod:`~middleware.capture.http`); each head's request line,
then its ``Referer`` and ``Cookie`` values, go through the classifier every other input
uses (:func:`middleware.corruption.classify.classify`); the first finding makes the event.

The client is the TCP source address, or the PROXY-protocol header's source when the
connection starts with one (and ``trusts`` says the peer may send it). The client side is
the one that sent a SYN without ACK; without the handshake in the capture, the first bytes
decide (:class:`~middleware.capture.http.RequestStream`).

Memory stays bounded on captures of many GB: a connection's state is a head at most
(64 KiB) plus out-of-order bytes (:data:`MAX_PENDING`); connections idle for
``idle_seconds`` of capture time are flushed (an incomplete head still counts); above
``max_connections`` the least recently active tenth is flushed. What is kept for the whole
file is one counter per client address (requests, and segments per IP TTL).
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal
from urllib.parse import unquote_to_bytes

from middleware.capture.files import Format, Frames, open_frames
from middleware.capture.http import Head, RequestStream
from middleware.capture.packets import ACK, FIN, RST, SYN, Segment, checksum_valid, decode
from middleware.capture.reassembly import Flow
from middleware.corruption.classify import Finding, classify

Field = Literal["request-line", "referer", "cookie"]
Checksum = Literal["valid", "invalid", "unknown"]
IDLE_SECONDS: Final = 300.0  # nginx's keepalive_timeout is 75 s; clients' idle ones longer
MAX_CONNECTIONS: Final = 200_000
MAX_PENDING: Final = 256 << 10

# What a delivered piece of payload remembers: frame number (from 1, as Wireshark counts),
# capture time, and the segment itself.
Piece = tuple[int, float, Segment]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a capture shows about one corrupted request, beyond what a log line can."""

    stream: int  # connection index in order of first appearance, from 0 (Wireshark's tcp.stream)
    client: str  # TCP source, ADDRESS:PORT ([v6]:port)
    server: str
    field: Field  # where the finding is
    frame: int  # the frame holding the first damaged byte
    frames: tuple[int, ...]  # the frames holding the request head
    ttl: int  # IP TTL / hop limit of that frame
    ip_id: int | None  # its IPv4 identification (None for IPv6)
    checksum: Checksum  # its TCP checksum ("unknown": the capture cut the segment short)
    peer_ttls: dict[int, int]  # TTL → count of the TCP peer's other segments in the capture
    stream_ttls: dict[int, int]  # the same, in this connection only (a NAT mixes hosts' TTLs)
    proxied: bool  # the client came from a PROXY-protocol header


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    time: float  # capture time of the damaged frame
    client: str  # address only (the PROXY header's source when there was one)
    finding: Finding
    target: bytes | None  # the raw request-target when the finding is in the request line
    evidence: Evidence


@dataclass
class CaptureStats:
    format: Format
    gzipped: bool
    linktype: int
    frames: int = 0
    not_tcp: int = 0  # frames without a TCP segment (other protocols, IP fragments)
    snapped: int = 0  # segments cut short by the capture's snap length
    connections: int = 0
    http: int = 0  # connections whose client spoke HTTP/1
    tls: int = 0  # TLS connections: not inspectable, counted only
    other: int = 0  # HTTP/2 prior knowledge and anything else not inspectable
    requests: int = 0
    gaps: int = 0  # holes given up (bytes the capture missed)
    resyncs: int = 0
    cut_short: str = ""


@dataclass
class CaptureResult:
    stats: CaptureStats
    clients: Counter[bytes] = field(default_factory=Counter)  # requests by client address
    events: list[CaptureEvent] = field(default_factory=list)
    # (client, request line) of every request, in the order heads completed; kept only
    # when asked for (tests, comparisons with tshark), never for a multi-GB file.
    lines: list[tuple[str, bytes]] | None = None
    # capture times of the earliest and latest frame (the input's time span in the report)
    first: float | None = None
    last: float | None = None


def _address(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(packed) == 16 else socket.AF_INET, packed)


def _endpoint(packed: bytes, port: int) -> str:
    text = _address(packed)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _raw_offset(data: bytes, decoded: int) -> int:
    """Where in percent-encoded ``data`` the ``decoded``-th decoded byte comes from."""
    i = j = 0
    while i < len(data) and j < decoded:
        i += 3 if data[i] == 0x25 and len(unquote_to_bytes(data[i : i + 3])) == 1 else 1
        j += 1
    return i


class _Side:
    """One direction of one connection."""

    __slots__ = (
        "closed",
        "fin",
        "flow",
        "index",
        "isn",
        "last",
        "peer",
        "server",
        "stream",
        "ttls",
    )

    def __init__(self, index: int, last: float) -> None:
        self.index = index
        self.last = last
        self.flow: Flow[Piece] | None = None
        self.stream: RequestStream[Piece] | None = None
        self.fin: int | None = None
        self.isn: int | None = None
        self.closed = False
        self.peer = ""
        self.server = ""
        self.ttls: dict[int, int] = {}  # TTL → segments, client side only


@dataclass
class _Pending:
    """An event whose TTL context is known only at the end of the file."""

    event: CaptureEvent
    peer: bytes
    side: _Side


class Scanner:
    """Feed frames in capture order; read :attr:`result` after :meth:`finish`."""

    def __init__(
        self,
        stats: CaptureStats,
        *,
        trusts: Callable[[str], bool] | None = None,
        idle_seconds: float = IDLE_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
        max_pending: int = MAX_PENDING,
        keep_lines: bool = False,
    ) -> None:
        self.result = CaptureResult(stats, lines=[] if keep_lines else None)
        self._stats = stats
        self._trusts = trusts
        self._idle = idle_seconds
        self._max_conns = max_connections
        self._max_pending = max_pending
        self._sides: dict[tuple[bytes, int, bytes, int], _Side] = {}
        self._ttls: dict[bytes, Counter[int]] = {}
        self._pending: list[_Pending] = []
        self._next_index = 0
        self._next_sweep = float("-inf")  # capture time of the next idle sweep

    # --- frames --------------------------------------------------------------------------

    def frame(self, number: int, ts: float, seg: Segment | None) -> None:
        stats = self._stats
        stats.frames += 1
        if seg is None:
            stats.not_tcp += 1
            return
        if seg.truncated:
            stats.snapped += 1
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        side = self._sides.get(key)
        flags = seg.flags
        if side is None:
            side = self._open(key, seg, ts)
        elif flags & SYN and not flags & ACK and side.isn != seg.seq:
            # The 4-tuple is used again by a new connection (a retransmitted SYN is not).
            self._close(side)
            side = self._open(key, seg, ts)
        side.last = ts
        if side.closed:
            return
        if flags & SYN:
            if flags & ACK:  # the server's side of the handshake: not counted, not read
                side.stream = None
                self._ignore(side)
                return
            side.isn = seg.seq
            if side.flow is not None and side.stream is not None:
                side.flow.syn(seg.seq)
                side.stream.from_syn = True
        flow = side.flow
        if flow is None:
            return
        ttls = self._ttls.get(seg.src)
        if ttls is None:
            ttls = self._ttls[seg.src] = Counter()
        ttls[seg.ttl] += 1
        side.ttls[seg.ttl] = side.ttls.get(seg.ttl, 0) + 1
        if seg.payload:
            flow.segment(seg.seq, seg.payload, (number, ts, seg))
        if flags & RST:
            self._close(side)
        elif flags & FIN:
            side.fin = (seg.seq + len(seg.payload)) % (1 << 32)
        if side.fin is not None and flow.nxt == side.fin:
            self._close(side)
        elif side.stream is not None and not side.stream.inspectable:
            self._ignore(side)
        if ts >= self._next_sweep:
            self.sweep(ts)

    def _open(self, key: tuple[bytes, int, bytes, int], seg: Segment, ts: float) -> _Side:
        back = self._sides.get((key[2], key[3], key[0], key[1]))
        if back is not None and not back.closed:
            index = back.index
        else:
            index = self._next_index
            self._next_index += 1
            self._stats.connections += 1
        side = _Side(index, ts)
        side.peer = _address(seg.src)
        side.server = _endpoint(seg.dst, seg.dport)
        client = _endpoint(seg.src, seg.sport)
        stream: RequestStream[Piece] = RequestStream(
            lambda head, s: self._head(head, s, side, client)
        )
        side.stream = stream
        side.flow = Flow(stream.deliver, stream.gap, max_pending=self._max_pending)
        if len(self._sides) >= self._max_conns:
            self._evict()
        self._sides[key] = side
        return side

    def _ignore(self, side: _Side) -> None:
        self._count(side)
        side.flow = None
        side.stream = None
        side.closed = True

    def _count(self, side: _Side) -> None:
        stream = side.stream
        if stream is None:
            return
        stats = self._stats
        carries = stream.carries
        if carries == "http":
            stats.http += 1
        elif carries == "tls":
            stats.tls += 1
        elif carries == "http2" or (carries == "unknown" and stream.base > 0):
            stats.other += 1  # bytes that never looked like a request
        stats.resyncs += stream.resyncs
        if side.flow is not None:
            stats.gaps += side.flow.gaps

    def _close(self, side: _Side) -> None:
        if side.closed:
            return
        if side.flow is not None:
            side.flow.flush()
        if side.stream is not None:
            side.stream.finish()
        self._ignore(side)

    def sweep(self, now: float) -> None:
        """Flush connections idle for ``idle_seconds`` of capture time."""
        self._next_sweep = now + min(self._idle, 30.0)
        limit = now - self._idle
        for key in [k for k, s in self._sides.items() if s.last < limit]:
            self._close(self._sides.pop(key))

    def _evict(self) -> None:
        by_age = sorted(self._sides.items(), key=lambda kv: kv[1].last)
        for key, side in by_age[: max(1, len(by_age) // 10)]:
            self._close(side)
            del self._sides[key]

    # --- requests ------------------------------------------------------------------------

    def _head(self, head: Head, stream: RequestStream[Piece], side: _Side, client: str) -> None:
        proxied = stream.client is not None and (self._trusts is None or self._trusts(side.peer))
        who = stream.client if proxied and stream.client is not None else side.peer
        self.result.clients[who.encode()] += 1
        if self.result.lines is not None:
            self.result.lines.append((who, head.line))
        self._stats.requests += 1
        found: tuple[Field, Finding, bytes, int] | None = None
        finding = classify(head.line)
        if finding is not None:
            found = ("request-line", finding, head.line, head.at)
        else:
            for name, value, at in head.headers:
                if name == b"referer" or name == b"cookie":
                    finding = classify(value)
                    if finding is not None:
                        found = ("referer" if name == b"referer" else "cookie", finding, value, at)
                        break
        if found is None:
            return
        where, finding, data, at = found
        offset = _raw_offset(data, finding.offset) if finding.decoded else finding.offset
        number, ts, seg = stream.info_at(at + offset)
        valid = checksum_valid(seg)
        parts = head.line.split(b" ")
        evidence = Evidence(
            stream=side.index,
            client=client,
            server=side.server,
            field=where,
            frame=number,
            frames=tuple(sorted({p[0] for p in stream.infos(head.at, head.end)})),
            ttl=seg.ttl,
            ip_id=seg.ip_id,
            checksum="unknown" if valid is None else "valid" if valid else "invalid",
            peer_ttls={},
            stream_ttls={},
            proxied=proxied,
        )
        target = parts[1] if where == "request-line" and len(parts) >= 3 else None
        event = CaptureEvent(ts, who, finding, target, evidence)
        self._pending.append(_Pending(event, seg.src, side))

    # --- the end -------------------------------------------------------------------------

    def finish(self) -> CaptureResult:
        for side in self._sides.values():
            self._close(side)
        self._sides.clear()
        for p in self._pending:
            ev = p.event.evidence
            peer_ttls = _others(self._ttls.get(p.peer, {}), ev.ttl)
            stream_ttls = _others(p.side.ttls, ev.ttl)
            evidence = replace(ev, peer_ttls=peer_ttls, stream_ttls=stream_ttls)
            self.result.events.append(replace(p.event, evidence=evidence))
        self._pending.clear()
        return self.result


def _others(ttls: Mapping[int, int], own: int) -> dict[int, int]:
    """``ttls`` without the damaged segment itself."""
    out = dict(ttls)
    out[own] = out.get(own, 0) - 1
    return {ttl: n for ttl, n in sorted(out.items()) if n > 0}


def read_capture(
    path: Path,
    *,
    trusts: Callable[[str], bool] | None = None,
    advance: Callable[[int], None] | None = None,
    idle_seconds: float = IDLE_SECONDS,
    keep_lines: bool = False,
) -> CaptureResult:
    """Read one capture file (pcap or pcapng, gzipped or not).

    Raises :class:`~middleware.capture.files.CaptureError` when the file is not a
    capture dpi-report can read; a file that ends in the middle of a record is read up to
    there (``stats.cut_short`` says why it stopped).
    """
    frames: Frames = open_frames(path)
    stats = CaptureStats(frames.format, frames.gzipped, frames.linktype)
    scanner = Scanner(stats, trusts=trusts, idle_seconds=idle_seconds, keep_lines=keep_lines)
    linktype = frames.linktype
    done = 0
    frame = scanner.frame
    first = last = None
    for number, (ts, buf) in enumerate(frames, 1):
        frame(number, ts, decode(linktype, buf))
        if first is None or ts < first:  # pcapng interfaces may interleave out of order
            first = ts
        if last is None or ts > last:
            last = ts
        if advance is not None and number % 4096 == 0:
            pos = frames.position()
            advance(pos - done)
            done = pos
    if advance is not None:
        try:
            end = path.stat().st_size
        except OSError:
            end = done
        advance(max(end - done, 0))
    stats.cut_short = frames.cut_short
    result = scanner.finish()
    result.first, result.last = first, last
    return result
