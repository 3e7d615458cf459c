"""The ASGI sensor: flag (or refuse) requests whose URL or headers a middlebox corrupted.

For each HTTP request, :class:`CorruptionSensorMiddleware`:

1. resolves the client address (the peer, or ``X-Forwarded-For`` from a trusted proxy,
   see ``client_address.py``) and counts the request for its AS (the denominator; a
   prefix-table lookup, microseconds);
2. classifies the raw path, the query string, and the ``Referer`` and ``Cookie`` values
   (``classify.py``); clean ASCII takes the classifier's fast path;
3. on a finding: stores it in ``scope["state"]["corruption"]`` (so ``SignedURLMiddleware``
   and the app can tell transport damage from forgery), queues a :class:`CorruptionEvent`
   for attribution (never waiting for it), and either passes the request on
   (``action="flag"``) or answers 400 (``action="reject"``).

Behind uvicorn with ``--proxy-headers`` (its default for a loopback peer), the peer in the
scope already is the forwarded client; the sensor's own walk then leaves it as is (a
public address is not a trusted proxy). Run uvicorn with ``--no-proxy-headers`` to let
``trusted_proxies`` alone decide, e.g. for a chain of proxies.

The attributor's background workers start with the ASGI lifespan (and stop with it,
flushing what is queued) or, without lifespan, lazily at the first event.
Non-HTTP scopes other than lifespan pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from middleware.attribution.attributor import Attributor
from middleware.attribution.events import CorruptionEvent
from middleware.corruption.classify import Finding, classify
from middleware.corruption.client_address import (
    AddressSet,
    client_address,
    normal_address,
)

Action = Literal["flag", "reject"]

_HEADERS: Final = {b"referer": "referer", b"cookie": "cookie"}
_XFF: Final = b"x-forwarded-for"
# Printable ASCII but "%" (the bytes of a field that classify() passes at a glance) map to
# themselves, every other byte to another one: ``field.translate(_FLAG) is field`` says
# "clean" (bytes.translate returns its very input when no byte changed).
_FLAG: Final = bytes(b if 0x20 <= b < 0x7F and b != 0x25 else b ^ 1 for b in range(256))
_REJECT_BODY: Final = b"Bad Request: the request was corrupted in transit\n"
_EVIDENCE_WINDOW: Final = 8  # bytes kept before the offending one (classify.py's window)


class CorruptionSensorMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        attributor: Attributor | None = None,
        trusted_proxies: Iterable[str] | str = ("127.0.0.1", "::1"),
        action: Action = "flag",
        count_requests: bool = True,
    ) -> None:
        """``attributor``: where events and request counts go (default: a table-less one,
        so every AS is ``unknown``). ``trusted_proxies``: peers whose ``X-Forwarded-For``
        is believed (addresses, networks, ``*``). ``action``: ``flag`` passes corrupted
        requests on, ``reject`` answers 400. ``count_requests``: count every request per AS
        (turn off when another sensor, e.g. ``dpi-watch`` at nginx, already counts them).
        """
        if action not in ("flag", "reject"):
            raise ValueError(f"action must be 'flag' or 'reject', not {action!r}")
        self.app = app
        self.attributor = attributor if attributor is not None else Attributor()
        self.trusted = AddressSet(trusted_proxies)
        self.action: Action = action
        self.count_requests = count_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The HTTP path is written out here rather than in a method: awaiting a second
        # coroutine per request costs about as much as classifying a clean path.
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        # One pass over the headers finds the values to classify and X-Forwarded-For; the
        # classifier's fast-path test (ASCII, printable, no "%") is inlined as one C call:
        # translate through _FLAG gives back the field itself when every byte is clean,
        # anything else means classify() must look. (Deleting the clean bytes instead,
        # translate(None, clean), first built a 256-byte table on every call: 6,200
        # instructions per request for four fields.) A hypothesis test in
        # tests/middleware/corruption/test_sensor.py proves the copy flags what classify does.
        finding: Finding | None = None
        where = ""
        raw_path = scope.get("raw_path")
        if raw_path is None:  # servers may omit it; the decoded path is then all we have
            raw_path = scope["path"].encode("utf-8", "surrogateescape")
        if raw_path.translate(_FLAG) is not raw_path:
            finding, where = classify(raw_path), "path"
        query = scope.get("query_string", b"")
        if finding is None and query.translate(_FLAG) is not query:
            finding, where = classify(query), "query"
        forwarded: list[str] | None = None
        for name, value in scope["headers"]:
            if name == _XFF:
                if forwarded is None:
                    forwarded = []
                forwarded.append(value.decode("latin-1"))
            elif finding is None and name in _HEADERS and value.translate(_FLAG) is not value:
                finding, where = classify(value), _HEADERS[name]
        count = self.count_requests
        if finding is None and not count:
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        if not peer:
            client = ""
        elif forwarded is not None and peer[0] in self.trusted:
            client = client_address(peer[0], forwarded, self.trusted) or ""
        else:
            client = normal_address(peer[0]) or ""
        if count:
            self.attributor.count_request(client)
        if finding is None:
            await self.app(scope, receive, send)
            return
        await self._flagged(scope, receive, send, finding, where, client)

    async def _flagged(
        self, scope: Scope, receive: Receive, send: Send, finding: Finding, where: str, client: str
    ) -> None:
        scope.setdefault("state", {})["corruption"] = finding
        evidence = finding.evidence_hex
        if where == "cookie":
            # Cookie values hold session tokens: the event (logged, written to disk) keeps
            # only the offending bytes, never their neighbours.
            start = 2 * min(finding.offset, _EVIDENCE_WINDOW)
            evidence = evidence[start : start + (4 if finding.kind == "dpi_signature" else 2)]
        self.attributor.submit(
            CorruptionEvent(
                time.time(), "asgi", finding.kind, client, evidence, finding.offset, where
            )
        )
        if self.action == "reject":
            await _bad_request(send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        attributor = self.attributor

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await attributor.start()
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await attributor.stop()
            await send(message)

        await self.app(scope, receive_wrapper, send_wrapper)


async def _bad_request(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(_REJECT_BODY)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _REJECT_BODY})
