"""Every gateway middleware passes non-HTTP scopes through untouched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from starlette.types import ASGIApp

from caldav_gateway.instrument import RequestMetrics
from caldav_gateway.policy import ProbePolicy
from caldav_gateway.principals import StaticPrincipals
from caldav_gateway.throttle import LoginThrottle

WRAPPERS: list[Callable[[ASGIApp], ASGIApp]] = [
    lambda app: ProbePolicy(app, principals=StaticPrincipals([])),
    lambda app: LoginThrottle(app),
    lambda app: RequestMetrics(app),
]


@pytest.mark.parametrize("wrap", WRAPPERS)
@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_non_http_scopes_pass_through(wrap: Callable[[ASGIApp], ASGIApp], kind: str) -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": f"{kind}.startup"}

    async def send(message: Any) -> None:
        raise AssertionError("the middleware must not answer")

    scope = {"type": kind, "path": "/principals/", "headers": [(b"authorization", b"x")]}
    asyncio.run(wrap(inner)(scope, receive, send))
    assert seen == [(scope, receive, send)]
