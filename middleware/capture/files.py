"""Capture files: recognised by their magic bytes (also inside gzip), read with dpkt.

Classic pcap records are read here (:func:`_pcap_records`) after dpkt checked the file
header, so that a record cut short by the end of the file is reported, not returned as a
short frame; with one ``struct`` unpack per record this reads 870 k frames/s where dpkt's
own pcap reader read 153 k (200,000 frames of 120 bytes, one process).

``dpkt`` was chosen by measurement (``bench/capture.py --libraries``): on the same
generated pcapng file it read 90 k frames/s against python-pcapng's 11.5 k, and classic
pcap at 215 k frames/s. It comes with the ``capture`` extra; without it reading a capture
is one clear error, never a traceback.

dpkt takes the link type of a pcapng file's first interface; captures written by
tcpdump, dumpcap and tshark on one interface (or ``-i any``) have exactly one.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from edgeward.optional import MissingExtra, require
from middleware.capture.packets import SUPPORTED

Format = Literal["pcap", "pcapng"]
# microsecond, nanosecond and "modified" pcap, in either byte order
_PCAP_MAGIC_BE: Final = (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d", b"\xa1\xb2\xcd\x34")
_PCAP_MAGICS: Final = frozenset(m for be in _PCAP_MAGIC_BE for m in (be, be[::-1]))
_PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC: Final = b"\x1f\x8b"
# tcpdump's largest snapshot length; no frame of a supported link type is longer.
MAX_RECORD: Final = 262_144


class CaptureError(ValueError):
    """A capture file cannot be read at all (missing, not a capture, unsupported link)."""


def format_of(head: bytes) -> Format | None:
    """Which capture format the first four bytes announce, if any."""
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == _PCAPNG_MAGIC:
        return "pcapng"
    return None


def sniff(path: Path) -> tuple[Format, bool] | None:
    """``(format, gzipped)`` when ``path`` is a capture; ``None`` when it is something else."""
    try:
        with path.open("rb") as raw:
            head = raw.read(4)
            if head[:2] != _GZIP_MAGIC:
                fmt = format_of(head)
                return (fmt, False) if fmt else None
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                fmt = format_of(gz.read(4))
                return (fmt, True) if fmt else None
    except (OSError, EOFError, zlib.error):
        return None


def _dpkt() -> Any:
    # The extra's one-line message is edgeward.optional's; a capture error, so that
    # callers that turn CaptureError into their own input error keep doing so.
    needed_for = "reading packet captures needs dpkt"
    try:
        for module in ("dpkt.pcap", "dpkt.pcapng"):  # dpkt does not import them itself
            require(module, extra="capture", needed_for=needed_for)
        return require("dpkt", extra="capture", needed_for=needed_for)
    except MissingExtra as exc:
        raise CaptureError(str(exc)) from None


@dataclass
class Frames:
    """The frames of one capture, read as they are iterated."""

    path: Path
    format: Format
    gzipped: bool
    linktype: int
    cut_short: str = ""  # why reading stopped before the end of the file, if it did
    _reader: Any = None
    _raw: io.BufferedReader | None = None

    def position(self) -> int:
        """Bytes of the file on disk read so far (for a progress bar)."""
        return self._raw.tell() if self._raw is not None and not self._raw.closed else 0

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        dpkt = _dpkt()
        try:
            yield from self._reader
        except (dpkt.Error, struct.error, ValueError, OSError, EOFError, zlib.error) as exc:
            # A capture copied while tcpdump was writing ends in half a record.
            self.cut_short = str(exc) or type(exc).__name__
        finally:
            self.close()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


class CutShort(ValueError):
    """A pcap record the file does not hold whole."""


def _pcap_records(src: Any, magic: bytes) -> Iterator[tuple[float, bytes]]:
    """The records of a pcap file after its 24-byte header, read here rather than by
    dpkt: dpkt hands a record cut off by the end of the file over as a short frame, and
    reads whatever length a corrupt record header claims (4 GiB at once)."""
    order = ">" if magic in _PCAP_MAGIC_BE else "<"
    modified = magic in (_PCAP_MAGIC_BE[2], _PCAP_MAGIC_BE[2][::-1])
    divisor = 1e9 if magic in (_PCAP_MAGIC_BE[1], _PCAP_MAGIC_BE[1][::-1]) else 1e6
    header = struct.Struct(order + "IIII" + ("8x" if modified else ""))
    read, unpack, size = src.read, header.unpack, header.size
    while head := read(size):
        if len(head) < size:
            raise CutShort(f"the last record header has {len(head)} of {size} bytes")
        seconds, fraction, caplen, _ = unpack(head)
        if caplen > MAX_RECORD:
            raise CutShort(f"a record claims {caplen} bytes, more than any frame (corrupt?)")
        data = read(caplen)
        if len(data) < caplen:
            raise CutShort(f"the last record has {len(data)} of {caplen} bytes")
        yield seconds + fraction / divisor, data


def open_frames(path: Path) -> Frames:
    """Open a capture; :class:`CaptureError` when it is not one dpi-report can read."""
    found = sniff(path)
    if found is None:
        raise CaptureError(f"{path}: not a pcap or pcapng file")
    fmt, gzipped = found
    dpkt = _dpkt()
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from None
    src: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
    try:
        if fmt == "pcap":  # dpkt checks the file header; the records are read here
            head = src.read(24)
            linktype = int(dpkt.pcap.Reader(io.BytesIO(head)).datalink())
            reader: Any = _pcap_records(src, head[:4])
        else:
            reader = dpkt.pcapng.Reader(src)
            linktype = int(reader.datalink())
    except (dpkt.Error, struct.error, ValueError, OSError, EOFError, zlib.error) as exc:
        raw.close()
        raise CaptureError(f"{path}: not a readable {fmt} file: {exc}") from None
    if linktype not in SUPPORTED:
        raw.close()
        raise CaptureError(
            f"{path}: link type {linktype} is not supported (Ethernet, Linux cooked v1/v2, "
            "raw IP and BSD loopback are)"
        )
    return Frames(path, fmt, gzipped, linktype, _reader=reader, _raw=raw)
