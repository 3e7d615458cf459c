"""Benchmark: how fast ``dpi-report`` reads a packet capture, against Wireshark's dissector.

One line per figure:

1. request lines/s of :func:`middleware.capture.read_capture` (frames → TCP reassembly →
   request heads → the classifier) ÷ request lines/s of
   ``tshark -Y http.request -T fields -e http.request.line`` on the same generated pcap
   (200 MB by default: keep-alive connections, handshakes, responses with bodies, some
   requests split over two segments, some pipelined, one in 2,000 damaged like the seed).
   Target >= 1: faster than Wireshark's own dissector. One run each (tshark's takes
   minutes; the ratio is far from 1 either way, so noise does not change the verdict).
2. ``--libraries``: the reading library's frames/s ÷ python-pcapng's on the same pcapng
   file (the measurement that chose dpkt; needs ``pip install python-pcapng``).

Run: ``.venv/bin/python bench/capture.py`` (``--mb 50`` for a shorter run).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware.capture import read_capture

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
_RECORD = struct.Struct("<IIII")
_ETH = b"\x04" * 6 + b"\x02" * 6 + b"\x08\x00"
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
SERVER = bytes([192, 0, 2, 80])
TSHARK_FIELDS = ("-T", "fields", "-e", "http.request.line")
PATHS = [
    b"/",
    b"/static/css/app.3f9a1c.css",
    b"/api/v1/users/12345/orders?page=2&sort=desc",
    b"/media/holiday/IMG_2041.jpg?w=640&sig=6f1d2c3b4a5e",
]


class _Writer:
    """Ethernet/IPv4/TCP frames straight into a pcap file (checksums left 0, as offload does)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.t = 1_700_000_000.0
        self.frames = 0

    def frame(self, src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int,
              data: bytes = b"") -> None:  # fmt: skip
        tcp = _TCP.pack(sport, dport, seq, 0, 0x50, flags, 65535, 0, 0)
        ip = _IP.pack(0x45, 0, 40 + len(data), self.frames & 0xFFFF, 0x4000, 57, 6, 0, src, dst)
        pkt = _ETH + ip + tcp + data
        self.t += 0.00002
        sec = int(self.t)
        self.out.write(_RECORD.pack(sec, int((self.t - sec) * 1e6), len(pkt), len(pkt)))
        self.out.write(pkt)
        self.frames += 1


def generate(path: Path, megabytes: int, seed: int = 16) -> tuple[int, int]:
    """A capture of about ``megabytes``; returns (requests, damaged requests)."""
    rng = random.Random(seed)
    requests = damaged = 0
    body = b"x" * 1400
    with path.open("wb") as f:
        f.write(_PCAP_HEADER)
        w = _Writer(f)
        conn = 0
        while f.tell() < megabytes << 20:
            conn += 1
            client = bytes([198, 51, rng.randrange(256), rng.randrange(1, 255)])
            sport = 1024 + conn % 60000
            cseq, sseq = rng.randrange(1 << 32), rng.randrange(1 << 32)
            w.frame(client, SERVER, sport, 80, cseq, 0x02)
            w.frame(SERVER, client, 80, sport, sseq, 0x12)
            cseq += 1
            sseq += 1
            batch: list[bytes] = []
            for _ in range(rng.randrange(1, 8)):
                target = rng.choice(PATHS)
                requests += 1
                if rng.random() < 1 / 2000:
                    at = rng.randrange(1, max(2, len(target) - 1))
                    target = target[:at] + rng.choice((b"\x80\x01", b"\x80\x04")) + target[at + 2 :]
                    damaged += 1
                req = (
                    b"GET " + target + b" HTTP/1.1\r\nHost: shop.example.org\r\n"
                    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0\r\n"
                    b"Referer: https://shop.example.org/account/orders?tab=recent\r\n"
                    b"Cookie: sessionid=6f1d2c3b4a5e; theme=dark\r\n\r\n"
                )
                batch.append(req)
                if rng.random() < 0.2 and len(batch) < 3:
                    continue  # pipelined with the next one
                data = b"".join(batch)
                batch = []
                cuts = [len(data)] if rng.random() < 0.8 else [len(data) // 2, len(data)]
                start = 0
                for end in cuts:
                    w.frame(client, SERVER, sport, 80, cseq, 0x18, data[start:end])
                    cseq += end - start
                    start = end
                resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2800\r\n\r\n"
                for part in (resp + body[: 1400 - len(resp)], body, body[: len(resp)]):
                    w.frame(SERVER, client, 80, sport, sseq, 0x18, part)
                    sseq += len(part)
                w.frame(client, SERVER, sport, 80, cseq, 0x10)
            if batch:
                data = b"".join(batch)
                w.frame(client, SERVER, sport, 80, cseq, 0x18, data)
                cseq += len(data)
            w.frame(client, SERVER, sport, 80, cseq, 0x11)
            w.frame(SERVER, client, 80, sport, sseq, 0x11)
    return requests, damaged


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ours_vs_tshark(megabytes: int) -> None:
    tshark = shutil.which("tshark")
    with tempfile.TemporaryDirectory(prefix="edgeward-bench-") as tmp:
        path = Path(tmp) / "bench.pcap"
        started = time.perf_counter()
        requests, damaged = generate(path, megabytes)
        size = path.stat().st_size
        print(
            f"(capture: {size / 1e6:.0f} MB, {requests:,} requests, {damaged} damaged, "
            f"written in {time.perf_counter() - started:.1f} s)"
        )
        started, cpu = time.perf_counter(), time.process_time()
        result = read_capture(path)
        ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
        found = result.stats.requests
        assert found == requests, (found, requests)
        assert len(result.events) == damaged, (len(result.events), damaged)
        rate = found / ours
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"capture peak memory (max RSS of this process): {peak:.0f} MB for {size / 1e6:.0f} MB"
        )
        if tshark is None:
            print(f"capture: {rate:,.0f} request lines/s ({ours:.1f} s); tshark not installed")
            return
        started, cpu = time.perf_counter(), _children_cpu()
        out = subprocess.run(
            [*(tshark, "-r", str(path), "-Y", "http.request"), *TSHARK_FIELDS],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=True,
        ).stdout
        theirs, theirs_cpu = time.perf_counter() - started, _children_cpu() - cpu
        frames = out.count(b"\n")
        their_rate = requests / theirs
        print(
            f"capture request lines/s ÷ tshark's: {rate / their_rate:.1f} (target >= 1; "
            f"{rate:,.0f} vs {their_rate:,.0f} lines/s, {ours:.1f} s vs {theirs:.1f} s, "
            f"{size / 1e6:.0f} MB; tshark: {frames:,} request frames)"
        )
        print(
            f"capture CPU seconds, tshark's ÷ ours: {theirs_cpu / ours_cpu:.1f} (target >= 1; "
            f"{ours_cpu:.1f} s vs {theirs_cpu:.1f} s: the same verdict without the other "
            "processes on a shared machine)"
        )


def libraries(megabytes: int) -> None:
    try:
        import pcapng  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        print("reader ÷ python-pcapng: skipped (pip install python-pcapng to measure)")
        return
    import dpkt

    with tempfile.TemporaryDirectory(prefix="edgeward-bench-") as tmp:
        pcap = Path(tmp) / "bench.pcap"
        generate(pcap, megabytes)
        ng = Path(tmp) / "bench.pcapng"
        with pcap.open("rb") as src, ng.open("wb") as dst:
            w = dpkt.pcapng.Writer(dst, snaplen=65535, linktype=1)
            for ts, buf in dpkt.pcap.Reader(src):
                w.writepkt(buf, ts=ts)

        def with_dpkt() -> int:
            with ng.open("rb") as f:
                return sum(1 for _ in dpkt.pcapng.Reader(f))

        def with_pcapng() -> int:
            n = 0
            with ng.open("rb") as f:
                for block in pcapng.FileScanner(f):
                    if isinstance(block, pcapng.blocks.EnhancedPacket):
                        _ = (block.timestamp, block.packet_data)
                        n += 1
            return n

        rates = {}
        for name, func in (("dpkt", with_dpkt), ("python-pcapng", with_pcapng)):
            started = time.perf_counter()
            n = func()
            rates[name] = n / (time.perf_counter() - started)
        print(
            f"reader frames/s, dpkt ÷ python-pcapng: {rates['dpkt'] / rates['python-pcapng']:.1f} "
            f"({rates['dpkt']:,.0f} vs {rates['python-pcapng']:,.0f} frames/s, pcapng)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="capture size in MB")
    parser.add_argument("--libraries", action="store_true", help="dpkt vs python-pcapng only")
    args = parser.parse_args()
    if args.libraries:
        libraries(min(args.mb, 20))
    else:
        ours_vs_tshark(args.mb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
