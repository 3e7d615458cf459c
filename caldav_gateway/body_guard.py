"""Request bodies before Radicale: a size limit on a streamed count, and XML nesting depth.

Embedded behind the ASGI front, Radicale reads whatever body arrives (its
``max_content_length`` is enforced by its own server only): an authenticated 200 MB PROPFIND
took the gateway to a 764 MB peak. And it parses XML bodies with ElementTree, whose C code
recurses once per nesting level: a PROPFIND of 150,000 nested ``<D:prop>`` (2.5 MB) crashed
the whole process with SIGSEGV, 100,000 answered 500. So, in front of Radicale:

- a ``Content-Length`` above ``max_body`` is answered 413 before a byte of the body is read;
- every body is counted as it streams (chunked uploads have no ``Content-Length``) and
  refused with 413 as soon as the count passes ``max_body``; memory stays bounded by it;
- the body of a method Radicale parses as XML (or one labelled XML) may be at most
  ``max_xml_body`` (CalDAV requests are small; parsing is what costs CPU); it is scanned with
  expat chunk by chunk as it arrives, keeping no tree and no recursion, and refused with 400
  as soon as elements nest deeper than ``max_xml_depth`` or a DTD starts (entity tricks;
  CalDAV clients never send one); the rest is read and dropped, unparsed;
- the checked body is then handed to Radicale in one piece.

Radicale reads the whole body before acting on it anyway, so holding it here first costs no
latency and no more than one copy of at most ``max_body`` bytes.
"""

from __future__ import annotations

import pyexpat
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caldav_gateway import metrics
from caldav_gateway.respond import plain
from edgeward.logs import get_logger

log = get_logger("caldav_gateway.body_guard")

# Methods whose body Radicale hands to ElementTree.
XML_METHODS: Final = frozenset({"PROPFIND", "PROPPATCH", "REPORT", "MKCOL", "MKCALENDAR"})


class XMLRefused(ValueError):
    """An XML body the gateway will not let Radicale parse (the message says why)."""


class XMLScanner:
    """Feeds a body to expat as it streams in, keeping only the current depth.

    :meth:`feed` raises :class:`XMLRefused` as soon as elements nest deeper than
    ``max_depth`` or a DTD starts, so the rest of an attack body is never read. A body
    that is not well-formed stops the scan and passes: Radicale answers it 400 itself, and
    the part expat read before the error was within the limit.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self._broken = False
        self._parser = pyexpat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.StartDoctypeDeclHandler = self._doctype

    def _start(self, _name: str, _attrs: object) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise XMLRefused(f"XML elements nested deeper than {self.max_depth} levels")

    def _end(self, _name: str) -> None:
        self.depth -= 1

    def _doctype(self, *_args: object) -> None:
        raise XMLRefused("XML with a document type declaration (DTD)")

    def feed(self, chunk: bytes, *, last: bool = False) -> None:
        if self._broken:
            return
        try:
            self._parser.Parse(chunk, last)
        except pyexpat.ExpatError:
            self._broken = True


def check_xml(body: bytes, max_depth: int) -> None:
    """Raise :class:`XMLRefused` if ``body`` nests deeper than ``max_depth`` or has a DTD."""
    XMLScanner(max_depth).feed(body, last=True)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


class BodyGuard:
    def __init__(
        self, app: ASGIApp, *, max_body: int, max_xml_depth: int, max_xml_body: int | None = None
    ) -> None:
        if max_body < 0 or max_xml_depth < 1:
            raise ValueError("max_body must be 0 or more and max_xml_depth 1 or more")
        self.app = app
        self.max_body = max_body
        self.max_xml_depth = max_xml_depth
        self.max_xml_body = max_body if max_xml_body is None else max_xml_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body: nothing to hold
            return
        content_type = (_header(scope, b"content-type") or b"").lower()
        xml = scope["method"] in XML_METHODS or b"xml" in content_type
        limit = min(self.max_xml_body, self.max_body) if xml else self.max_body
        what = "XML body" if xml else "body"
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, send, 413, "too_large", f"{what} over {limit} bytes")
            return
        scanner = XMLScanner(self.max_xml_depth) if xml else None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            chunk = message.get("body", b"")
            body += chunk
            if len(body) > limit:
                await self._refuse(scope, send, 413, "too_large", f"{what} over {limit} bytes")
                return
            more = message.get("more_body", False)
            if scanner is not None:
                # chunk by chunk (64 KiB at most from uvicorn): the event loop is never
                # held long, and nothing of a refused body is kept
                try:
                    scanner.feed(chunk, last=not more)
                except XMLRefused as exc:
                    # Read the rest without keeping or parsing it: a client sees an answer
                    # only once it has sent its body.
                    if more and not await _drain(receive, limit - len(body)):
                        return
                    await self._refuse(scope, send, 400, "xml", str(exc))
                    return
            if not more:
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(
        self, scope: Scope, send: Send, status: int, reason: str, detail: str
    ) -> None:
        metrics.BODIES_REFUSED.labels(reason).inc()
        client = scope["client"][0] if scope.get("client") else "unknown"
        log.warning(
            "%s %r from %s refused (%d): %s", scope["method"], scope["path"], client, status, detail
        )
        text = f"{'Content Too Large' if status == 413 else 'Bad Request'}: {detail}\n".encode()
        # The rest of an over-long body is not worth reading: close after the answer.
        await plain(send, status, text, [(b"connection", b"close")])


async def _drain(receive: Receive, allowed: int) -> bool:
    """Read and drop the rest of a body; False if the client left or sent over ``allowed``."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        allowed -= len(message.get("body", b""))
        if allowed < 0:
            return True  # answered at once, and the connection closes
        if not message.get("more_body", False):
            return True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the client's disconnect, when it comes

    return replay
