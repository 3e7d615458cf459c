"""Read ``dpi-report``'s inputs: nginx access logs (plain or ``.gz``) and JSONL event files.

A packet capture (pcap or pcapng, plain or gzipped) is recognised first, by its magic
bytes, and read by :mod:`middleware.capture`. Otherwise each file's kind is sniffed from
its first non-empty line, so they can be mixed freely:

- an **event file** (``dpi-watch --events``, the ASGI sensor's attributor): JSON objects
  with ``kind`` and ``source`` keys, one per line;
- an nginx log in ``edgeward_json``: other JSON objects;
- anything else: an nginx log in ``combined``.

Logs are read in blocks and scanned with :class:`~middleware.edge.fastscan.CombinedScan`,
so a million lines cost about a second; lines that do not parse are counted, never fatal.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast

from middleware.capture import CaptureError, CaptureStats, Evidence, read_capture
from middleware.capture import sniff as sniff_capture
from middleware.corruption.classify import classify
from middleware.edge.fastscan import CombinedScan, needs_classify
from middleware.edge.nginx_log import LogRecord, MalformedLine, parse_combined, parse_json
from middleware.edge.realip import RealClient

InputKind = Literal["nginx-combined", "nginx-json", "events", "pcap", "pcapng"]
_BLOCK: Final = 4 << 20
# Times a report can show: 1970 up to the end of year 9999 (what ``time.gmtime`` and
# the ISO format handle). An event or log line outside is not one nginx or a sensor wrote.
MAX_TIME: Final = 253402300799.0
_EDGE_TRIES: Final = 16  # lines tried at each end of a block for the time span
# The input "-": standard input (a log or events, streamed). Compared by identity: a file
# named "-" is "./-", which Path would make equal to Path("-").
STDIN: Final = Path("-")


class InputError(ValueError):
    """An input file cannot be read at all (missing, unreadable, not gzip)."""


@dataclass(frozen=True, slots=True)
class Corrupted:
    """One corrupted request, from a log line or an event file."""

    time: float
    client: str
    kind: str
    evidence_hex: str
    offset: int
    origin: str  # "log" (found in an nginx log here) or the event's source ("edge", "asgi")
    target: bytes | None = None  # the raw request-target, when a log line carried it
    asn: int | None = None  # as resolved by the attributor (event files only)
    as_name: str = ""
    capture: Evidence | None = None  # what a packet capture shows about it


@dataclass
class InputStats:
    """One input: its kind, lines read, malformed lines, and the time span it covers.

    ``first``/``last`` (Unix seconds, ``None`` when no line carried a time): for events
    and JSON logs the earliest and latest time read; for ``combined`` logs, read in blocks
    without parsing every line, those of the first and last lines of each 4 MB block
    (nginx writes in time order, so that is the span up to a request's duration).
    """

    path: str
    kind: InputKind
    lines: int = 0  # requests, for a capture
    malformed: int = 0
    capture: CaptureStats | None = None
    first: float | None = None
    last: float | None = None

    @property
    def span(self) -> tuple[float, float] | None:
        return None if self.first is None or self.last is None else (self.first, self.last)

    def saw(self, t: float) -> None:
        if t <= 0:
            return  # a log line without a usable time
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t


@dataclass
class Collected:
    clients: Counter[bytes] = field(default_factory=Counter)  # requests by logged client
    corrupted: list[Corrupted] = field(default_factory=list)
    inputs: list[InputStats] = field(default_factory=list)

    @property
    def has_logs(self) -> bool:
        return any(i.kind != "events" for i in self.inputs)

    def absorb(self, other: Collected) -> None:
        """Add what ``other`` read: every field is additive, so inputs read apart (other
        processes, other hosts) and absorbed give the report one run over them all would."""
        self.clients.update(other.clients)
        self.corrupted.extend(other.corrupted)
        self.inputs.extend(other.inputs)


def _open(path: Path) -> tuple[io.BufferedIOBase, io.BufferedIOBase]:
    """``(reader, raw)``: ``raw.tell()`` is the progress in the file on disk."""
    if path is STDIN:  # a pipe: peeked, never rewound, so read in one pass
        stdin = cast(io.BufferedReader, sys.stdin.buffer)  # what Python gives a process
        peek = getattr(stdin, "peek", None)  # (a test's stand-in may have none)
        if peek is not None and peek(2)[:2] == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=stdin, mode="rb"), stdin
        return stdin, stdin
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    raw.seek(0)
    return raw, raw


def _blocks(reader: io.BufferedIOBase, path: Path) -> Iterator[bytes]:
    """Blocks of complete lines (a last line without newline is completed)."""
    rest = b""
    while True:
        try:
            data = reader.read(_BLOCK)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise InputError(f"{path}: cannot read: {exc}") from None
        if not data:
            break
        end = data.rfind(b"\n")
        if end < 0:
            rest += data
            continue
        yield rest + data[: end + 1]
        rest = data[end + 1 :]
    if rest:
        yield rest + b"\n"


def sniff(first_line: bytes) -> InputKind:
    text = first_line.strip()
    if text.startswith(b"{"):
        try:
            obj = json.loads(text.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError):  # deep nesting, a 5,000-digit number
            return "nginx-json"
        if isinstance(obj, dict) and "kind" in obj and "source" in obj:
            return "events"
        return "nginx-json"
    return "nginx-combined"


def _first_line(path: Path) -> bytes:
    reader, raw = _open(path)
    try:
        for block in _blocks(reader, path):
            for line in block.split(b"\n"):
                if line.strip():
                    return line
        return b""
    finally:
        reader.close()
        raw.close()


def _finding(record: LogRecord, client: str) -> Corrupted | None:
    finding = classify(record.request)
    if finding is None:
        return None
    return Corrupted(
        time=record.time,
        client=client,
        kind=finding.kind,
        evidence_hex=finding.evidence_hex,
        offset=finding.offset,
        origin="log",
        target=record.target,
    )


def _time(value: object) -> float | None:
    """An event's time: a finite number (or numeric text) within :data:`MAX_TIME`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        t = float(value)
    except (ValueError, OverflowError):  # "x"; an int beyond float's range
        return None
    return t if 0 <= t <= MAX_TIME else None  # NaN fails both comparisons


def _int(value: object, default: int) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 1 << 63:
        return None
    return value


def _text(value: str) -> str:
    """JSON allows lone surrogates (``"\\udcff"``); no output encoding does."""
    return value.encode("utf-8", "replace").decode("utf-8")


def event_of(obj: object) -> Corrupted | None:
    """The corrupted request an events-file object describes; ``None`` if it is none.

    Documented contract (fuzzed): any JSON value gives a :class:`Corrupted` or ``None``,
    never an exception. Required: ``time`` (finite, 1970-9999), ``client``, ``kind`` and
    ``source`` (strings); ``asn`` is kept only when it is a 32-bit AS number.
    """
    if not isinstance(obj, dict):
        return None
    t = _time(obj.get("time"))
    client, kind, source = obj.get("client"), obj.get("kind"), obj.get("source")
    offset = _int(obj.get("offset"), -1)
    if (
        t is None
        or offset is None
        or not isinstance(client, str)
        or not isinstance(kind, str)
        or not isinstance(source, str)
    ):
        return None
    asn = obj.get("asn")
    name = obj.get("as_name")
    evidence = obj.get("evidence_hex")
    is_asn = isinstance(asn, int) and not isinstance(asn, bool) and 0 <= asn < 1 << 32
    return Corrupted(
        time=t,
        client=_text(client),
        kind=_text(kind),
        evidence_hex=_text(evidence) if isinstance(evidence, str) else "",
        offset=offset,
        origin=_text(source),
        asn=asn if is_asn and isinstance(asn, int) else None,
        as_name=_text(name) if isinstance(name, str) else "",
    )


def read_file(
    path: Path,
    into: Collected,
    *,
    trusted: RealClient | None = None,
    advance: Callable[[int], None] | None = None,
) -> InputStats:
    """Add one input's requests and corrupted requests to ``into``."""
    if path is not STDIN and sniff_capture(path) is not None:
        return _read_capture(path, into, trusted=trusted, advance=advance)
    reader, raw = _open(path)
    blocks = _blocks(reader, path)
    if path is STDIN:  # a pipe: its kind from its first block, read once like the rest
        first = next(blocks, b"")
        kind = sniff(next((ln for ln in first.split(b"\n") if ln.strip()), b""))
        blocks, advance = itertools.chain([first], blocks), None
    else:
        kind = sniff(_first_line(path))
    stats = InputStats(str(path), kind)
    done = 0
    scan = CombinedScan(trusted) if kind == "nginx-combined" else None
    try:
        for block in blocks:
            if scan is not None:
                scan.feed(block)
                into.clients.update(scan.take())  # a list: counted by C code
                _block_span(block, stats)
                _classify(scan, into, stats, trusted)
            else:
                _read_json_lines(block, kind, into, stats, trusted)
            if advance is not None:
                pos = raw.tell()
                advance(pos - done)
                done = pos
    finally:
        reader.close()
        raw.close()
    if scan is not None:
        stats.lines += scan.lines
        stats.malformed += scan.malformed
    into.inputs.append(stats)
    return stats


def _classify(
    scan: CombinedScan, into: Collected, stats: InputStats, trusted: RealClient | None
) -> None:
    """Parse and classify the block's candidate lines, then drop them: memory stays flat
    however many lines hold an escape or a percent-encoded byte (every UTF-8 URL does)."""
    for line in scan.candidates:
        try:
            record = parse_combined(line)
        except MalformedLine:
            stats.malformed += 1
            continue
        hit = _finding(record, trusted.client_of(record) if trusted else record.client)
        if hit is not None:
            into.corrupted.append(hit)
    scan.candidates.clear()


def _block_span(block: bytes, stats: InputStats) -> None:
    """Widen ``stats``' span by the first and last lines of ``block`` that parse."""
    lines = block.split(b"\n")
    for candidates in (lines[:_EDGE_TRIES], lines[::-1][:_EDGE_TRIES]):
        for line in candidates:
            try:
                t = parse_combined(line).time
            except (MalformedLine, ValueError, OverflowError):
                continue
            if 0 < t <= MAX_TIME:
                stats.saw(t)
                break


def _read_json_lines(
    block: bytes,
    kind: InputKind,
    into: Collected,
    stats: InputStats,
    trusted: RealClient | None,
) -> None:
    for line in block.split(b"\n"):
        if not line.strip():
            continue
        stats.lines += 1
        if kind == "events":
            try:
                event = event_of(json.loads(line))
            except (ValueError, RecursionError):  # not JSON, 5,000 digits, 200,000 '['
                event = None
            if event is None:
                stats.malformed += 1
            else:
                into.corrupted.append(event)
                stats.saw(event.time)
            continue
        try:
            record = parse_json(line)
        except (MalformedLine, ValueError, RecursionError, OverflowError):
            # parse_json's own error, or a number Python refuses (a 5,000-digit status)
            stats.malformed += 1
            continue
        if not (0 <= record.time <= MAX_TIME):  # "msec": "1e400" or NaN: not nginx's
            stats.malformed += 1
            continue
        stats.saw(record.time)
        client = trusted.client_of(record) if trusted else record.client
        into.clients[client.encode()] += 1
        if needs_classify(record.request):
            hit = _finding(record, client)
            if hit is not None:
                into.corrupted.append(hit)


def _read_capture(
    path: Path,
    into: Collected,
    *,
    trusted: RealClient | None,
    advance: Callable[[int], None] | None,
) -> InputStats:
    """A capture's requests per client, and its corrupted requests with their evidence."""
    try:
        result = read_capture(path, trusts=trusted.trusts if trusted else None, advance=advance)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    stats = InputStats(str(path), result.stats.format, lines=result.stats.requests)
    stats.capture = result.stats
    for t in (result.first, result.last):
        if t is not None and t <= MAX_TIME:
            stats.saw(t)
    into.clients.update(result.clients)
    for e in result.events:
        into.corrupted.append(
            Corrupted(
                time=e.time,
                client=e.client,
                kind=e.finding.kind,
                evidence_hex=e.finding.evidence_hex,
                offset=e.finding.offset,
                origin="capture",
                target=e.target,
                capture=e.evidence,
            )
        )
    into.inputs.append(stats)
    return stats


def total_size(paths: list[Path]) -> int:
    size = 0
    for p in paths:
        if p is STDIN:
            continue  # a pipe's size is unknown
        try:
            size += p.stat().st_size
        except OSError as exc:
            raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return size
