"""The gateway's ASGI stack: its order, whose names it serves, and answers through all of it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from caldav_gateway.app import build_app, principals_of
from caldav_gateway.body_guard import BodyGuard
from caldav_gateway.instrument import RequestMetrics
from caldav_gateway.links import ProfileLinks
from caldav_gateway.policy import ProbePolicy
from caldav_gateway.principals import HtpasswdPrincipals, StaticPrincipals
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.throttle import LoginThrottle
from tests.support.gateway import write_htpasswd

PASSWORD = "app-test-Pw-1"


def _settings(tmp: Path, **kw: Any) -> GatewaySettings:
    write_htpasswd(tmp / "users", {"alice": PASSWORD})
    return GatewaySettings(htpasswd=tmp / "users", collections=tmp / "c", insecure_http=True, **kw)


def test_the_stack_outermost_first(tmp_path: Path) -> None:
    layers: list[type] = []
    app: Any = build_app(_settings(tmp_path))
    while isinstance(app, (RequestMetrics, ProfileLinks, ProbePolicy, BodyGuard, LoginThrottle)):
        layers.append(type(app))
        app = app.app
    # The policy sits outside the throttle: probe paths get 404 even from a throttled address.
    assert layers == [RequestMetrics, ProfileLinks, ProbePolicy, BodyGuard, LoginThrottle]
    assert type(app).__name__ == "WSGIMiddleware"  # then Radicale, through a2wsgi


@pytest.mark.parametrize(
    ("principals", "kind", "names"),
    [
        ([], HtpasswdPrincipals, {"alice"}),
        (["bob", "carol"], StaticPrincipals, {"bob", "carol"}),
    ],
)
def test_principals_come_from_the_setting_or_the_htpasswd_file(
    tmp_path: Path, principals: list[str], kind: type, names: set[str]
) -> None:
    found = principals_of(_settings(tmp_path, principals=principals))
    assert isinstance(found, kind) and found.names() == names


@pytest.mark.parametrize(
    ("method", "path", "auth", "status", "challenged"),
    [
        ("PROPFIND", "/principals/", False, 404, False),  # a probe: never a 401
        ("PROPFIND", "/bob/", False, 404, False),  # not a user of this gateway
        ("PROPFIND", "/", False, 401, True),  # current-user-principal needs a login
        ("PROPFIND", "/", True, 207, False),
        ("PROPFIND", "/alice/", True, 207, False),
        ("GET", "/.profile/nope", False, 404, False),  # unsigned profile links do not exist
        ("GET", "/.well-known/caldav", False, 301, False),
    ],
)
def test_answers_through_the_whole_stack(
    tmp_path: Path, method: str, path: str, auth: bool, status: int, challenged: bool
) -> None:
    app = build_app(_settings(tmp_path))

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://cal.test") as c:
            return await c.request(
                method,
                path,
                headers={"Depth": "0"},
                auth=("alice", PASSWORD) if auth else None,
            )

    r = asyncio.run(main())
    assert r.status_code == status, r.text
    assert ("www-authenticate" in r.headers) is challenged
