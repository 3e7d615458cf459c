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
  expat in a thread, which keeps no tree and no recursion, and refused with 400 when
  elements nest deeper than ``max_xml_depth`` or it declares a DTD (entity tricks; CalDAV
  clients never send one);
- the checked body is then handed to Radicale in one piece.

Radicale reads the whole body before acting on it anyway, so holding it here first costs no
latency and no more than one copy of at most ``max_body`` bytes.
"""

from __future__ import annotations

import asyncio
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


def check_xml(body: bytes, max_depth: int) -> None:
    """Raise :class:`XMLRefused` if ``body`` nests deeper than ``max_depth`` or has a DTD.

    A body that is not well-formed passes: Radicale answers it 400 itself, and the part
    expat read before the error was within the depth limit.
    """
    depth = 0

    def start(_name: str, _attrs: object) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth:
            raise XMLRefused(f"XML elements nested deeper than {max_depth} levels")

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*_args: object) -> None:
        raise XMLRefused("XML with a document type declaration (DTD)")

    parser = pyexpat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(body, True)
    except pyexpat.ExpatError:
        return


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
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_body:
            await self._refuse(scope, send, 413, "too_large", f"over {self.max_body} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._refuse(scope, send, 413, "too_large", f"over {self.max_body} bytes")
                return
            if not message.get("more_body", False):
                break
        content_type = (_header(scope, b"content-type") or b"").lower()
        if body and (scope["method"] in XML_METHODS or b"xml" in content_type):
            if len(body) > self.max_xml_body:
                detail = f"XML body over {self.max_xml_body} bytes"
                await self._refuse(scope, send, 413, "too_large", detail)
                return
            try:
                # In a thread: a large flat document costs seconds of expat callbacks, which
                # must not stop the event loop (this runs before authentication).
                await asyncio.to_thread(check_xml, bytes(body), self.max_xml_depth)
            except XMLRefused as exc:
                await self._refuse(scope, send, 400, "xml", str(exc))
                return
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


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the client's disconnect, when it comes

    return replay
