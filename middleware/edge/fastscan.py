"""The hot loop: count requests per client over whole chunks of a ``combined`` log.

Parsing a million lines one by one in Python costs about a microsecond each; this module
does the common case with C-level bytes operations over a chunk of many lines and leaves
per-line Python work to the rare lines that need it:

1. **Shape check.** A chunk of ``n`` lines passes when it holds only printable ASCII
   (nginx's escaping guarantees it), ``n`` lines that start with an address and end with
   a double quote, and in each line the log's quotes per line
   (6, 8 or 10: ``combined``, Debian's ``main``, ``edgeward_combined``; the first line
   that passes fixes which). Otherwise it
   is halved until the odd lines are in small pieces, which are parsed line by line
   (:func:`~middleware.edge.nginx_log.parse_combined`) with malformed lines counted
   exactly. The check is about shape, not every field: a well-shaped line with, say, an
   impossible date still counts as the request nginx logged; truncated lines and lines
   of other programs (the malformed lines that occur) fail it, so for a log in one format
   the counts equal a line-by-line parse (tested with hypothesis). A file that mixes
   formats takes the slow path for the odd parts, and every line is still accounted for.
2. **Clients** are collected with one regex ``findall``, in line order (:meth:`take`);
   callers then count them or map them to AS numbers with C-level ``Counter``/``map``
   and a cache, so no Python code runs per line.
3. **Candidates**: only lines holding a ``\\xHH`` escape or a percent-encoded control or
   high byte can be corrupted (a superset of what the classifier flags in a request line);
   they are returned whole for a full parse and :func:`classify`. Percent-encoded UTF-8
   (a search, a file name) makes many lines candidates that are clean; a caller that
   gives ``runs_clean`` (a check of a set of runs of ``%XX`` escapes) has a chunk's runs
   checked together first, and when they are all clean only the lines with ``\\x``
   escapes remain candidates (:func:`suspect_lines`).

With trusted proxies the logged address is not always the client (see
:mod:`middleware.edge.realip`), so chunks whose clients include a trusted proxy take the
line-by-line path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from middleware.edge.nginx_log import MalformedLine, parse_combined
from middleware.edge.realip import RealClient

# A client is an address at a line start right after a line that ended in a quote: one
# findall checks both ends of every line but the first, whose client is matched apart
# (prefixing the chunk with '"\n' would copy megabytes to save one match).
_CLIENTS: Final = re.compile(rb'"\n([0-9A-Fa-f.:]+) ')
_FIRST: Final = re.compile(rb"([0-9A-Fa-f.:]+) ")
_QUOTES: Final = (6, 8, 10)  # per line: combined, + X-Forwarded-For (main), edgeward_combined
# Two patterns, each with a literal first byte: sre then skips ahead at C speed (an
# alternation of the two scans ten times slower).
_ESCAPED: Final = re.compile(rb"\\x")
_ENCODED: Final = re.compile(rb"%(?:[0189A-Fa-f][0-9A-Fa-f]|7[Ff])")
_RUNS: Final = re.compile(rb"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*")  # adjacent escapes
_PRINTABLE: Final = bytes(range(0x20, 0x7F)) + b"\n"
# Deleting every printable byte but '"' leaves a chunk's skeleton: its quotes, newlines
# and any byte nginx would have escaped. One C pass; the counts then run on a few bytes.
_SKELETON: Final = bytes(b for b in range(0x20, 0x7F) if b != 0x22)
# A well-shaped chunk's skeleton is its lines' skeletons, each q quotes and a newline:
# one comparison with this times n checks every line's quotes and bytes at once.
_LINE_SKELETON: Final = {q: b'"' * q + b"\n" for q in _QUOTES}
_SMALL: Final = 64  # lines: below this a chunk that fails the shape check is parsed line by line


def needs_classify(request: bytes) -> bool:
    """Whether a request line could hold corruption (cheap; the classifier decides)."""
    return (
        _ESCAPED.search(request) is not None
        or _ENCODED.search(request) is not None
        or bool(request.translate(None, _PRINTABLE[:-1]))
    )


def candidate_lines_reference(chunk: bytes) -> list[bytes]:
    """The lines of ``chunk`` (complete, each ending in ``\\n``) that hold a ``\\xHH``
    escape or an encoded control or high byte, those with an escape first; the plain
    definition, kept as the reference :func:`candidate_lines` is tested against."""
    out: list[bytes] = []
    starts: set[int] = set()
    for pattern in (_ESCAPED, _ENCODED):
        pos = 0
        while (m := pattern.search(chunk, pos)) is not None:
            start = chunk.rfind(b"\n", 0, m.start()) + 1
            pos = chunk.find(b"\n", m.end()) + 1  # chunks end in \n: never 0 here
            if start not in starts:
                starts.add(start)
                out.append(chunk[start : pos - 1])
    return out


def candidate_lines(chunk: bytes) -> list[bytes]:
    """Same as :func:`candidate_lines_reference`, faster on a clean chunk.

    sre scans for a pattern's literal first byte at about 5 instructions a byte;
    ``bytes.find`` of one byte is ``memchr``. So the candidates are found by ``find`` of each
    ``\\`` or ``%``, and the pattern is only *matched* there: a ``search`` from a ``%`` that
    starts no match (``%20``) would scan on at sre's speed to the next match, lines or
    blocks away."""
    out: list[bytes] = []
    starts: set[int] = set()
    _collect(chunk, _ESCAPED, b"\\", starts, out)
    _collect(chunk, _ENCODED, b"%", starts, out)
    return out


def suspect_lines(chunk: bytes, runs_clean: Callable[[set[bytes]], bool]) -> list[bytes]:
    """The lines of ``chunk`` with a ``\\xHH`` escape; and, unless ``runs_clean`` clears
    every run of ``%XX`` escapes in ``chunk`` (:func:`percent_runs`), also those with an
    encoded control or high byte (then the same as :func:`candidate_lines`).

    For a printable chunk (one that passed the shape check) this leaves out no line the
    classifier can flag, when ``runs_clean`` is exact for its runs: such a line's
    corruption comes from its escapes, and lies within one run of adjacent ones."""
    out: list[bytes] = []
    starts: set[int] = set()
    _collect(chunk, _ESCAPED, b"\\", starts, out)
    if not runs_clean(percent_runs(chunk)):
        _collect(chunk, _ENCODED, b"%", starts, out)
    return out


def _collect(
    chunk: bytes, pattern: re.Pattern[bytes], first: bytes, starts: set[int], out: list[bytes]
) -> None:
    """Append to ``out`` each line of ``chunk`` where ``pattern`` (which starts with the byte
    ``first``) matches, unless its start is in ``starts``."""
    find = chunk.find
    match = pattern.match
    pos = 0
    while (i := find(first, pos)) >= 0:
        if match(chunk, i) is None:
            pos = i + 1
            continue
        start = chunk.rfind(b"\n", 0, i) + 1
        pos = find(b"\n", i) + 1  # chunks end in \n: never 0 here
        if start not in starts:
            starts.add(start)
            out.append(chunk[start : pos - 1])


def percent_runs(data: bytes) -> set[bytes]:
    """The distinct runs of adjacent ``%XX`` escapes in ``data`` (what ``findall`` of
    ``%XX(%XX)*`` gives), found from each ``%`` by ``memchr``: real logs hold a few runs
    among many bytes, which sre would scan one by one."""
    runs: set[bytes] = set()
    find = data.find
    match = _RUNS.match
    pos = 0
    while (i := find(b"%", pos)) >= 0:
        m = match(data, i)
        if m is None:
            pos = i + 1
        else:
            runs.add(m[0])
            pos = m.end()
    return runs


class CombinedScan:
    """Accumulates per-client request counts over chunks of complete ``combined`` lines."""

    __slots__ = ("candidates", "clients", "lines", "malformed", "quotes", "runs_clean", "trusted")

    def __init__(
        self,
        trusted: RealClient | None = None,
        *,
        runs_clean: Callable[[set[bytes]], bool] | None = None,
    ) -> None:
        # Quotes per line, learnt from the first line of the first chunk that passes. A log
        # has one format, so a truncated line (fewer quotes) always shows in the total.
        self.quotes: int | None = None
        self.clients: list[bytes] = []  # the client of every parsed line, in order
        self.candidates: list[bytes] = []  # whole lines to parse and classify
        self.malformed = 0
        self.lines = 0
        self.trusted = trusted if trusted else None
        # Whether a set of %XX runs holds nothing the classifier flags: with it, candidates
        # are the lines that may be corrupted (:func:`suspect_lines`), not every encoded one.
        self.runs_clean = runs_clean

    def feed(self, chunk: bytes) -> None:
        """Scan ``chunk``: complete lines, each ending in ``\\n`` (the last one may not)."""
        if not chunk:
            return
        if chunk[-1:] != b"\n":
            chunk += b"\n"
        self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        skeleton = chunk.translate(None, _SKELETON)
        first = _FIRST.match(chunk)
        clients = _CLIENTS.findall(chunk)  # lines 2 to n
        # Learnt from one whole line, never from a chunk's total: three long lines and a
        # fragment can add up to four lines of a shorter format.
        q = self.quotes or chunk[: chunk.find(b"\n")].count(b'"')
        n = len(clients) + 1
        if (
            first is None
            or q not in _QUOTES
            # n lines of q quotes each, and no byte but printable ones, '"' and \n
            or skeleton != _LINE_SKELETON[q] * n
            or not chunk.endswith(b'"\n')
        ):
            n = skeleton.count(b"\n")
            if n <= _SMALL:
                self._slow(chunk)
                return
            # One odd line must not send thousands of lines down the slow path: halve
            # until the odd part is small.
            mid = chunk.find(b"\n", len(chunk) // 2) + 1
            if 0 < mid < len(chunk):
                self._feed(chunk[:mid])
                self._feed(chunk[mid:])
            else:
                self._slow(chunk)
            return
        clients.insert(0, first[1])  # (a memmove of pointers: cheap beside the findall)
        if self.trusted is not None and any(self.trusted.trusts(c.decode()) for c in set(clients)):
            self._slow(chunk)
            return
        if self.quotes is None:
            self.quotes = q
        self.clients += clients
        self.lines += n
        if self.runs_clean is None:
            self.candidates += candidate_lines(chunk)
        else:
            self.candidates += suspect_lines(chunk, self.runs_clean)

    def take(self) -> list[bytes]:
        """The clients collected so far (one per parsed line); the scan forgets them."""
        out, self.clients = self.clients, []
        return out

    def _slow(self, chunk: bytes) -> None:
        for line in chunk.split(b"\n")[:-1]:
            self.lines += 1
            try:
                record = parse_combined(line)
            except MalformedLine:
                self.malformed += 1
                continue
            client = self.trusted.client_of(record) if self.trusted else record.client
            self.clients.append(client.encode())
            if needs_classify(record.request):
                self.candidates.append(line)
