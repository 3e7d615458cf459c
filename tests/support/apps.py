"""ASGI apps the middleware tests wrap: ``echo`` answers with what the sensor stored."""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 200 with what it was given: the finding the sensor stored, if any."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    finding = scope.get("state", {}).get("corruption")
    body = json.dumps({"kind": finding.kind if finding else None}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
