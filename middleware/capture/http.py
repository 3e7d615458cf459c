"""A client's byte stream → HTTP/1.x request heads, with where each byte came from.

Framing follows the request: a head ends at the first empty line; a body is skipped by
``Content-Length`` or by its chunks (``Transfer-Encoding: chunked``); a request without
either has none. Once a connection is in step, each head is taken as a request whatever
bytes its request line holds (damaged ones included: that is what is looked for).

The stream is *out of step* when a capture joined the connection midway, after a gap
(bytes never captured), after a framing error (a bad chunk size, a head longer than
:data:`MAX_HEAD`) and after ``CONNECT`` or ``Upgrade`` (what follows is not HTTP/1).
Out of step, a segment is looked at only when it starts with a known method and a space,
which is where the next request starts in practice.

The first bytes of a connection decide what it carries: a PROXY-protocol header (read,
then the decision is made on what follows), a TLS ClientHello (counted, never looked into),
an HTTP/2 preface, a response (the server's side, when the capture missed the handshake),
or requests.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar

from middleware.capture import proxy

Info = TypeVar("Info")
Carries = Literal["unknown", "http", "tls", "http2", "response"]

MAX_HEAD: Final = 64 << 10  # nginx refuses far smaller heads (large_client_header_buffers)
_DECIDE: Final = 16  # bytes enough to tell a request from TLS, a response or a preface
_METHODS: Final = (
    b"GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT|PROPFIND|PROPPATCH|MKCOL|COPY|"
    b"MOVE|LOCK|UNLOCK|REPORT|MKCALENDAR|SEARCH|ACL"
)
# Where a request starts when the stream is not in step (and at a connection's start):
# a known method, or an uppercase extension method followed by a request-target's start.
_REQUEST_START: Final = re.compile(
    rb"(?:(?:" + _METHODS + rb") |[A-Z][A-Z_-]{2,19} (?:/|\*|https?://))"
)
# A request line whatever its first bytes (damage can hit the method too): a line that
# ends in the HTTP version. Only where a request must start (the connection's first byte,
# its SYN seen): elsewhere the tail of a request line would match.
_MAX_LINE: Final = 8192
_HTTP1_LINE: Final = re.compile(rb"[^\r\n]{1,%d} HTTP/1\.[01]\r?\n" % _MAX_LINE)
_HEAD_END: Final = re.compile(rb"\n\r?\n")
_HEADER: Final = re.compile(
    rb"\n(referer|cookie|content-length|transfer-encoding|upgrade)[ \t]*:[ \t]*([^\r\n]*)",
    re.IGNORECASE,
)
_H2_PREFACE: Final = b"PRI * HTTP/2.0"


@dataclass(frozen=True, slots=True)
class Head:
    """One request head; offsets count bytes from the start of the client's stream."""

    line: bytes  # the request line, without its line ending
    at: int  # where the head (its request line) starts
    headers: tuple[tuple[bytes, bytes, int], ...]  # (lowercase name, value, value offset)
    end: int  # just after the empty line (or where an incomplete head was cut)
    complete: bool


class RequestStream(Generic[Info]):
    """Feed it a client's in-order bytes (``deliver``) and gaps; it calls ``on_head``.

    While ``on_head`` runs, :meth:`info_at` and :meth:`infos` tell which delivered piece
    (its ``info``) holds a byte of that head.
    """

    __slots__ = (
        "_buf",
        "_infos",
        "_offsets",
        "_on_head",
        "_remaining",
        "_scan_from",
        "_state",
        "base",
        "carries",
        "client",
        "from_syn",
        "requests",
        "resyncs",
    )

    def __init__(self, on_head: Callable[[Head, RequestStream[Info]], None]) -> None:
        self._on_head = on_head
        self._buf = b""
        self.base = 0  # stream offset of _buf[0]
        self._offsets: list[int] = []  # stream offset where each delivered piece starts
        self._infos: list[Info] = []
        self._state = "first"  # first | head | body | chunk | chunk_data | trailer | resync
        self._remaining = 0
        self._scan_from = 0
        self.carries: Carries = "unknown"
        self.client: str | None = None  # from a PROXY-protocol header
        self.from_syn = False  # the capture holds the SYN: the first byte starts a request
        self.requests = 0
        self.resyncs = 0

    @property
    def inspectable(self) -> bool:
        return self.carries in ("unknown", "http")

    # --- input ---------------------------------------------------------------------------

    def deliver(self, data: bytes, info: Info) -> None:
        if not self.inspectable:
            return
        start = self.base + len(self._buf)
        if self._state == "resync":
            if _REQUEST_START.match(data) is None:
                self.base = start + len(data)
                return
            self._state = "head"
            if self.carries == "unknown":
                self.carries = "http"
        self._offsets.append(start)
        self._infos.append(info)
        self._buf = self._buf + data if self._buf else data
        self._run(final=False)

    def gap(self, missing: int) -> None:
        """``missing`` bytes will never come: drop what waits, wait for the next request.

        Inside a body of known length the hole is only skipped: a capture that dropped
        packets of an upload stays in step.
        """
        if self._state in ("body", "chunk_data"):
            self._run(final=False)
            if self._state in ("body", "chunk_data") and self._remaining >= missing:
                self.base += missing
                self._remaining -= missing
                if self._remaining == 0:
                    self._state = "head" if self._state == "body" else "chunk"
                return
        if self._buf:
            self._run(final=True)
        if self.inspectable and self._state != "resync":
            self._out_of_step()
        self.base += missing

    def finish(self) -> None:
        """The connection ended (or was flushed): an incomplete head is still a request."""
        if self._buf:
            self._run(final=True)
        self._consume(len(self._buf))

    # --- bookkeeping ---------------------------------------------------------------------

    def info_at(self, offset: int) -> Info:
        i = bisect_right(self._offsets, offset) - 1
        return self._infos[max(i, 0)]

    def infos(self, start: int, end: int) -> list[Info]:
        lo = max(bisect_right(self._offsets, start) - 1, 0)
        hi = max(bisect_right(self._offsets, max(end - 1, start)), lo + 1)
        return self._infos[lo:hi]

    def _consume(self, n: int) -> None:
        self._buf = self._buf[n:]
        self.base += n
        self._scan_from = 0
        if not self._buf:
            self._offsets.clear()
            self._infos.clear()
            return
        # Keep the pieces from the one that holds the new first byte.
        i = bisect_right(self._offsets, self.base) - 1
        if i > 0:
            del self._offsets[:i]
            del self._infos[:i]

    def _out_of_step(self) -> None:
        self._consume(len(self._buf))
        self._state = "resync"
        self.resyncs += 1

    # --- parsing -------------------------------------------------------------------------

    def _run(self, *, final: bool) -> None:
        while self._buf:
            step = getattr(self, "_" + self._state)
            if not step(final):
                return

    def _first(self, final: bool) -> bool:
        buf = self._buf
        try:
            header = proxy.parse(buf)
        except proxy.Incomplete:
            if not final:
                return False
            header = None
        if header is not None:
            size, client = header
            self.client = client
            self._consume(size)
            return True
        if len(buf) < _DECIDE and b"\n" not in buf and not final:
            return False
        if buf[:2] == b"\x16\x03":
            # Only the ClientHello (handshake type 1) makes a TLS connection: a ServerHello
            # is the other side of one already counted.
            self.carries = "tls" if buf[5:6] in (b"\x01", b"") else "response"
        elif buf.startswith(b"HTTP/"):
            self.carries = "response"
        elif buf.startswith(_H2_PREFACE):
            self.carries = "http2"
        elif (
            _REQUEST_START.match(buf) is not None
            or buf[:1] in (b"\r", b"\n")
            or (self.from_syn and _HTTP1_LINE.match(buf) is not None)
        ):
            self.carries = "http"
            self._state = "head"
            return True
        elif self.from_syn and b"\n" not in buf and len(buf) < _MAX_LINE and not final:
            return False  # the first line may still end in an HTTP version
        else:
            # A capture that joined the connection midway, or not HTTP at all.
            self._out_of_step()
            return False
        self._consume(len(buf))
        return False

    def _head(self, final: bool) -> bool:
        buf = self._buf
        skip = 0
        while skip < len(buf) and buf[skip] in (13, 10):  # empty lines before a request
            skip += 1
        if skip:
            self._consume(skip)
            return True
        if buf.startswith(_H2_PREFACE):
            self.carries = "http2"
            self._consume(len(buf))
            return False
        m = _HEAD_END.search(buf, self._scan_from)
        if m is None:
            if len(buf) <= MAX_HEAD and not final:
                self._scan_from = max(0, len(buf) - 3)
                return False
            self._emit(buf[:MAX_HEAD], complete=False)
            self._out_of_step()
            return False
        end = m.end()
        head = self._emit(buf[:end], complete=True)
        self._consume(end)
        return self._after(head)

    def _emit(self, raw: bytes, *, complete: bool) -> Head:
        nl = raw.find(b"\n")
        line = raw[: nl if nl >= 0 else len(raw)]
        if line.endswith(b"\r"):
            line = line[:-1]
        headers = tuple(
            (m.group(1).lower(), m.group(2), self.base + m.start(2))
            for m in _HEADER.finditer(raw, max(nl, 0))
        )
        head = Head(line, self.base, headers, self.base + len(raw), complete)
        self.requests += 1
        self._on_head(head, self)
        return head

    def _after(self, head: Head) -> bool:
        length: bytes | None = None
        chunked = False
        upgrade = head.line.startswith(b"CONNECT ")
        for name, value, _ in head.headers:
            if name == b"content-length":
                length = value.strip()
            elif name == b"transfer-encoding":
                chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"upgrade":
                upgrade = True
        if upgrade:
            self._out_of_step()
            return False
        if chunked:
            self._state = "chunk"
        elif length is not None:
            if not length.isdigit():
                self._out_of_step()
                return False
            self._remaining = int(length)
            self._state = "body" if self._remaining else "head"
        return True

    def _skip(self, then: str) -> bool:
        n = min(self._remaining, len(self._buf))
        self._remaining -= n
        self._consume(n)
        if self._remaining == 0:
            self._state = then
        return True

    def _body(self, final: bool) -> bool:
        return self._skip("head")

    def _chunk_line(self) -> bytes | None:
        end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > 1024:
                self._out_of_step()
            return None
        line = self._buf[:end].rstrip(b"\r")
        self._consume(end + 1)
        return line

    def _chunk(self, final: bool) -> bool:
        line = self._chunk_line()
        if line is None:
            return False
        size = line.split(b";", 1)[0].strip()
        try:
            n = int(size, 16) if size and size.isalnum() else -1
        except ValueError:
            n = -1
        if n < 0:
            self._out_of_step()
            return False
        if n == 0:
            self._state = "trailer"
        else:
            self._remaining = n + 2  # the chunk and its CRLF
            self._state = "chunk_data"
        return True

    def _chunk_data(self, final: bool) -> bool:
        return self._skip("chunk")

    def _trailer(self, final: bool) -> bool:
        line = self._chunk_line()
        if line is None:
            return False
        if not line:
            self._state = "head"
        return True

    def _resync(self, final: bool) -> bool:
        self._out_of_step()
        return False
