"""The hot loop: count requests per client over whole chunks of a ``combined`` log.

Parsing a million lines one by one in Python costs about a microsecond each; this module
does the common case with C-level bytes operations over a chunk of many lines and leaves
per-line Python work to the rare lines that need it:

1. **Shape check.** A chunk of ``n`` lines passes when it holds only printable ASCII
   (nginx's escaping guarantees it), ``n`` lines that start with an address and end with
   a double quote, and as many double quotes as ``n`` times the log's quotes per line
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
   they are returned whole for a full parse and :func:`classify`.

With trusted proxies the logged address is not always the client (see
:mod:`middleware.edge.realip`), so chunks whose clients include a trusted proxy take the
line-by-line path.
"""

from __future__ import annotations

import re
from typing import Final

from middleware.edge.nginx_log import MalformedLine, parse_combined
from middleware.edge.realip import RealClient

# A client is an address at a line start right after a line that ended in a quote: one
# findall checks both ends of every line (the chunk is prefixed with '"\n').
_CLIENTS: Final = re.compile(rb'"\n([0-9A-Fa-f.:]+) ')
_QUOTES: Final = (6, 8, 10)  # per line: combined, + X-Forwarded-For (main), edgeward_combined
# Two patterns, each with a literal first byte: sre then skips ahead at C speed (an
# alternation of the two scans ten times slower).
_ESCAPED: Final = re.compile(rb"\\x")
_ENCODED: Final = re.compile(rb"%(?:[0189A-Fa-f][0-9A-Fa-f]|7[Ff])")
_PRINTABLE: Final = bytes(range(0x20, 0x7F)) + b"\n"
# Deleting every printable byte but '"' leaves a chunk's skeleton: its quotes, newlines
# and any byte nginx would have escaped. One C pass; the counts then run on a few bytes.
_SKELETON: Final = bytes(b for b in range(0x20, 0x7F) if b != 0x22)
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

    sre scans for a pattern's literal first byte at about 5 instructions a byte (the two
    scans were a fifth of the ingest's instructions); ``bytes.find`` of one byte is
    ``memchr``. So each regex search
    starts at the next ``\\`` or ``%`` that ``find`` reports (no match can start before
    it), and a chunk without either byte is never scanned by sre at all."""
    out: list[bytes] = []
    starts: set[int] = set()
    for pattern, first in ((_ESCAPED, b"\\"), (_ENCODED, b"%")):
        pos = 0
        while (i := chunk.find(first, pos)) >= 0:
            m = pattern.search(chunk, i)
            if m is None:
                break
            start = chunk.rfind(b"\n", 0, m.start()) + 1
            pos = chunk.find(b"\n", m.end()) + 1  # chunks end in \n: never 0 here
            if start not in starts:
                starts.add(start)
                out.append(chunk[start : pos - 1])
    return out


class CombinedScan:
    """Accumulates per-client request counts over chunks of complete ``combined`` lines."""

    __slots__ = ("candidates", "clients", "lines", "malformed", "quotes", "trusted")

    def __init__(self, trusted: RealClient | None = None) -> None:
        # Quotes per line, learnt from the first line of the first chunk that passes. A log
        # has one format, so a truncated line (fewer quotes) always shows in the total.
        self.quotes: int | None = None
        self.clients: list[bytes] = []  # the client of every parsed line, in order
        self.candidates: list[bytes] = []  # whole lines to parse and classify
        self.malformed = 0
        self.lines = 0
        self.trusted = trusted if trusted else None

    def feed(self, chunk: bytes) -> None:
        """Scan ``chunk``: complete lines, each ending in ``\\n`` (the last one may not)."""
        if not chunk:
            return
        if chunk[-1:] != b"\n":
            chunk += b"\n"
        self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        skeleton = chunk.translate(None, _SKELETON)
        n = skeleton.count(b"\n")
        quotes = skeleton.count(b'"')
        clients = _CLIENTS.findall(b'"\n' + chunk)
        # Learnt from one whole line, never from a chunk's total: three long lines and a
        # fragment can add up to four lines of a shorter format.
        q = self.quotes or chunk[: chunk.find(b"\n")].count(b'"')
        shaped = q in _QUOTES and quotes == q * n
        if (
            len(clients) != n
            or not shaped
            or not chunk.endswith(b'"\n')
            or len(skeleton) != n + quotes  # a byte that is neither printable, '"' nor \n
        ):
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
        if self.trusted is not None and any(self.trusted.trusts(c.decode()) for c in set(clients)):
            self._slow(chunk)
            return
        if self.quotes is None:
            self.quotes = q
        self.clients += clients
        self.lines += n
        self.candidates += candidate_lines(chunk)

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
