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

**Blocks sit on a fixed grid**, so a file read in byte-range parts (``dpi-report --jobs``,
:mod:`middleware.report.parallel`) is scanned exactly as when read whole: block ``k`` runs
from the line start after offset ``k * block`` to the line start after ``(k + 1) * block``,
where "the line start after ``o``" is ``0`` for ``o = 0`` and otherwise just past the first
newline at or after ``o``. A :class:`Part` (``start``, ``end``) covers the lines whose blocks
the same rule gives it, so consecutive parts share no line and miss none.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import stat
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
from middleware.edge.fastscan import CombinedScan, needs_classify, percent_runs
from middleware.edge.nginx_log import LogRecord, MalformedLine, parse_combined, parse_json
from middleware.edge.realip import RealClient

InputKind = Literal["nginx-combined", "nginx-json", "events", "pcap", "pcapng"]
BLOCK: Final = 4 << 20
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


def _blocks(reader: io.BufferedIOBase, path: Path, block: int = BLOCK) -> Iterator[bytes]:
    """A stream's grid blocks (see the module docstring), each of complete lines; a last
    line without newline is completed. Read ``block`` bytes at a time, on the grid."""
    rest = _read(reader, block, path)  # the current block, from its first line on
    while True:
        data = _read(reader, block, path)
        if not data:
            break
        end = data.find(b"\n") + 1  # the first newline at or after the grid point
        if not end:  # a line longer than a block: it is all the current block's
            rest += data
            continue
        yield rest + data[:end]  # (a blank line alone is a block, as a pread gives it)
        rest = data[end:]
    if rest:
        yield rest if rest.endswith(b"\n") else rest + b"\n"


def compressed(path: Path) -> bool:
    """Whether ``path`` is gzipped (read as one stream, never by byte range)."""
    reader, raw = _open(path)
    reader.close()
    raw.close()
    return reader is not raw


def head_lines(path: Path, size: int = 1 << 16) -> bytes:
    """The complete lines among the first ``size`` bytes (decompressed)."""
    reader, raw = _open(path)
    try:
        data = _read(reader, size, path)
    finally:
        reader.close()
        raw.close()
    return data[: data.rfind(b"\n") + 1]


def _read(reader: io.BufferedIOBase, size: int, path: Path) -> bytes:
    try:
        return reader.read(size)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise InputError(f"{path}: cannot read: {exc}") from None


def line_start(fd: int, offset: int, size: int) -> int:
    """Where the first line starting at or after ``offset`` in a plain file begins: just
    past the first newline at or after ``offset`` (``0`` for ``0``, ``size`` if none)."""
    if offset <= 0:
        return 0
    probe = 4096
    while offset < size:
        data = os.pread(fd, probe, offset)
        if not data:
            break
        nl = data.find(b"\n")
        if nl >= 0:
            return offset + nl + 1
        offset += len(data)
        probe = min(probe * 2, 1 << 20)
    return size


def _range_blocks(
    fd: int, start: int, end: int, size: int, block: int, path: Path
) -> Iterator[bytes]:
    """The grid blocks of a plain file's part ``[start, end)`` (nominal offsets), one
    ``pread`` each: the kernel copies the bytes once."""
    edges = [line_start(fd, start, size)]
    edges += [line_start(fd, g, size) for g in range((start // block + 1) * block, end, block)]
    edges.append(line_start(fd, end, size) if end < size else size)
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue  # a line that spans this whole grid block belongs to the one before
        try:
            data = os.pread(fd, hi - lo, lo)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if data:
            yield data if data.endswith(b"\n") else data + b"\n"


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
    """The first line that is not blank (``b""`` if none)."""
    reader, raw = _open(path)
    try:
        rest = b""
        while True:
            data = _read(reader, 1 << 16, path)
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    return line
            if not data:
                return rest if rest.strip() else b""
            if not rest.strip():
                rest = b""  # blank lines (a file of them) need not pile up
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


@dataclass(frozen=True, slots=True)
class Part:
    """What one reader (a process of ``dpi-report --jobs``) reads: a whole input, or the
    lines of a plain log between two byte offsets (see the module docstring). Small, so
    sending it to another process costs nothing."""

    path: str
    kind: InputKind
    start: int = 0
    end: int | None = None  # None: to the end of the file
    quotes: int | None = None  # a combined log's quotes per line, as learnt before ``start``
    block: int = BLOCK


@dataclass
class PartRead:
    """A part's requests and corrupted requests (``collected.inputs``: its one
    :class:`InputStats`), and the quotes per line its scan had learnt by its end."""

    collected: Collected
    quotes: int | None = None


def part_of(path: Path) -> Part:
    """The whole of one input, its kind sniffed (capture magic bytes, else its first line)."""
    capture = sniff_capture(path)
    if capture is not None:
        return Part(str(path), capture[0])
    return Part(str(path), sniff(_first_line(path)))


def read_file(
    path: Path,
    into: Collected,
    *,
    trusted: RealClient | None = None,
    advance: Callable[[int], None] | None = None,
) -> InputStats:
    """Add one input's requests and corrupted requests to ``into``."""
    read = (
        _read_stdin(trusted)
        if path is STDIN
        else read_part(part_of(path), trusted=trusted, advance=advance)
    )
    into.absorb(read.collected)
    return read.collected.inputs[-1]


def _read_stdin(trusted: RealClient | None) -> PartRead:
    """Standard input, in one pass: its kind is sniffed from its first block."""
    reader, _ = _open(STDIN)
    blocks = _blocks(reader, STDIN)
    first = next(blocks, b"")
    kind = sniff(next((ln for ln in first.split(b"\n") if ln.strip()), b""))
    return _scan_blocks(str(STDIN), kind, None, itertools.chain([first], blocks), trusted)


def read_part(
    part: Part,
    *,
    trusted: RealClient | None = None,
    advance: Callable[[int], None] | None = None,
) -> PartRead:
    """Read one part: the same blocks, scanned the same way, as when its file is read whole."""
    path = Path(part.path)
    into = Collected()
    if part.kind in ("pcap", "pcapng"):
        _read_capture(path, into, trusted=trusted, advance=advance)
        return PartRead(into)
    blocks = _part_blocks(part, path, advance)
    return _scan_blocks(part.path, part.kind, part.quotes, blocks, trusted)


def _scan_blocks(
    path: str,
    kind: InputKind,
    quotes: int | None,
    blocks: Iterator[bytes],
    trusted: RealClient | None,
) -> PartRead:
    into = Collected()
    stats = InputStats(path, kind)
    scan = CombinedScan(trusted, runs_clean=_runs_clean) if kind == "nginx-combined" else None
    if scan is not None:
        scan.quotes = quotes
    for block in blocks:
        if scan is not None:
            scan.feed(block)
            into.clients.update(scan.take())  # a list: counted by C code
            _block_span(block, stats)
            # Classified and dropped per block: memory stays flat however many lines
            # hold a percent-encoded byte (every UTF-8 URL does).
            _candidates(scan.candidates, into, stats, trusted)
            scan.candidates.clear()
        else:
            _read_json_lines(block, kind, into, stats, trusted)
    if scan is not None:
        stats.lines += scan.lines
        stats.malformed += scan.malformed
        into.corrupted.sort(key=_in_order)  # as a whole read of the file orders them
    into.inputs.append(stats)
    return PartRead(into, scan.quotes if scan is not None else None)


def _part_blocks(part: Part, path: Path, advance: Callable[[int], None] | None) -> Iterator[bytes]:
    reader, raw = _open(path)
    try:
        info = os.fstat(raw.fileno())
        if reader is raw and stat.S_ISREG(info.st_mode):  # the part's grid blocks, one pread each
            size = info.st_size
            end = size if part.end is None else min(part.end, size)
            for block in _range_blocks(raw.fileno(), part.start, end, size, part.block, path):
                yield block
                if advance is not None:
                    advance(len(block))
            return
        if part.start or part.end is not None:  # a stream has no byte ranges to seek
            raise ValueError(f"{path}: a compressed input or a stream is read whole")
        done = 0
        for block in _blocks(reader, path, part.block):
            yield block
            if advance is not None:
                pos = raw.tell()
                advance(pos - done)
                done = pos
    finally:
        reader.close()
        raw.close()


def joined(parts: list[PartRead]) -> Collected:
    """The parts of ONE file, in order, as one read of it: their requests and corrupted
    requests added, their statistics one :class:`InputStats` (lines and malformed lines
    summed, the earliest first and the latest last)."""
    out = Collected()
    for part in parts:
        out.absorb(part.collected)
    if len(out.inputs) > 1:
        first = out.inputs[0]
        one = InputStats(first.path, first.kind, capture=first.capture)
        for s in out.inputs:
            one.lines += s.lines
            one.malformed += s.malformed
            for t in (s.first, s.last):
                if t is not None:
                    one.saw(t)
        out.inputs = [one]
        if one.kind == "nginx-combined":
            out.corrupted.sort(key=_in_order)  # as one read of the file orders them
    return out


_GROUP_FROM: Final = 8  # candidate lines: a group this small is parsed line by line
_PRINTABLE: Final = bytes(range(0x20, 0x7F))


def _candidates(
    lines: list[bytes], into: Collected, stats: InputStats, trusted: RealClient | None
) -> None:
    """The corrupted requests among the scan's candidate lines, in time order.

    Most candidates are clean: percent-encoded UTF-8 in a search or a file name. Groups of
    lines are cleared at once (:func:`_clean`); a group that does not clear is halved down
    to a few lines, which are parsed and classified one by one.
    """
    # A line with a \x escape is a suspect at once (the seed's damage, as nginx logs it):
    # left in a group, each would fail the joint check all the way down its halves.
    suspects = [i for i, line in enumerate(lines) if b"\\x" in line]
    escaped = set(suspects)
    _clear(lines, [i for i in range(len(lines)) if i not in escaped], suspects)
    hits = []
    for i in suspects:
        try:
            record = parse_combined(lines[i])
        except MalformedLine:
            stats.malformed += 1
            continue
        hit = _finding(record, trusted.client_of(record) if trusted else record.client)
        if hit is not None:
            hits.append(hit)
    into.corrupted += sorted(hits, key=_in_order)


def _in_order(c: Corrupted) -> tuple[float, str, str, str, int, bytes]:
    """A log's corrupted requests in time order (candidates come out in an order that
    depends on where blocks start), ties broken by every other field a log line sets."""
    return c.time, c.client, c.kind, c.evidence_hex, c.offset, c.target or b""


def _clear(lines: list[bytes], group: list[int], suspects: list[int]) -> None:
    """Add to ``suspects`` the lines of ``group`` that a joint check cannot clear."""
    if len(group) <= _GROUP_FROM:
        suspects.extend(group)
        return
    if _clean(b" ".join([lines[i] for i in group])):
        return
    mid = len(group) // 2
    _clear(lines, group[:mid], suspects)
    _clear(lines, group[mid:], suspects)


def _clean(lines: bytes) -> bool:
    """Whether :func:`classify` finds nothing in any request of these (space-joined) lines.

    Sufficient, cheap and exact where it answers yes: when the lines are printable ASCII
    without ``\\x`` escapes, the request's raw bytes hold nothing to find, and each byte
    its percent-decoding adds comes from an escape. A corrupted sequence (``0x80 0x01``, a
    control byte, bytes that are not UTF-8) lies within one run of adjacent escapes, and
    ASCII around valid runs stays valid; so when every distinct run decodes clean, every
    request does. Real logs repeat few distinct runs (``%C3%A9``), so the check is a
    couple of C-level passes over the lines.
    """
    if b"\\x" in lines or lines.translate(None, _PRINTABLE):
        return False
    return _runs_clean(percent_runs(lines))


def _runs_clean(runs: set[bytes]) -> bool:
    """Whether :func:`classify` finds nothing in any of these runs of ``%XX`` escapes (the
    scan's check of a whole block: see :func:`_clean` for why runs are enough)."""
    return all(classify(run) is None for run in runs)


def _block_span(block: bytes, stats: InputStats) -> None:
    """Widen ``stats``' span by the first and last lines of ``block`` that parse."""
    head = block.split(b"\n", _EDGE_TRIES)[:_EDGE_TRIES]  # split only as far as needed
    tail = block.rsplit(b"\n", _EDGE_TRIES)[-_EDGE_TRIES:]
    for candidates in (head, tail[::-1]):
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
