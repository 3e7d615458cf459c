"""Radicale embedded through its public API: the settings the gateway owns, and its answers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from caldav_gateway.radicale_app import radicale_asgi, radicale_config, radicale_level_for
from tests.support.gateway import write_htpasswd


@pytest.mark.parametrize(
    ("web", "realm", "section", "option", "value"),
    [
        (False, "CalDAV", "auth", "delay", 0.0),  # the challenge is immediate; throttle.py waits
        (False, "CalDAV", "auth", "type", "htpasswd"),
        (False, "CalDAV", "auth", "htpasswd_encryption", "autodetect"),
        (False, "Family", "auth", "realm", "Family"),
        (False, "CalDAV", "rights", "type", "owner_only"),
        (False, "CalDAV", "web", "type", "none"),
        (True, "CalDAV", "web", "type", "internal"),
        (False, "CalDAV", "logging", "mask_passwords", True),
    ],
)
def test_the_settings_the_gateway_owns(
    tmp_path: Path, web: bool, realm: str, section: str, option: str, value: object
) -> None:
    cfg = radicale_config(
        htpasswd=tmp_path / "users", collections=tmp_path / "c", web=web, realm=realm
    )
    assert cfg.get(section, option) == value
    assert cfg.get("auth", "htpasswd_filename") == str(tmp_path / "users")
    assert cfg.get("storage", "filesystem_folder") == str(tmp_path / "c")


@pytest.mark.parametrize(
    ("level", "expected"),
    [("debug", logging.DEBUG), ("info", logging.ERROR), ("warning", logging.ERROR)],
)
def test_radicale_logs_only_errors_unless_debugging(level: str, expected: int) -> None:
    assert radicale_level_for(level) == expected


@pytest.mark.parametrize(("web", "web_status"), [(False, 302), (True, 200)])
def test_answers_as_radicale_does_behind_the_gateway(
    tmp_path: Path, web: bool, web_status: int
) -> None:
    write_htpasswd(tmp_path / "users", {"alice": "pw-alice-1"})
    collections = tmp_path / "new" / "c"
    app = radicale_asgi(htpasswd=tmp_path / "users", collections=collections, web=web)
    assert collections.is_dir()  # made on start, as Radicale's server does

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://cal.test") as c:
            return [
                await c.request("PROPFIND", "/", headers={"Depth": "0"}),
                await c.request(
                    "PROPFIND", "/", headers={"Depth": "0"}, auth=("alice", "pw-alice-1")
                ),
                await c.get("/.well-known/caldav"),
                await c.get("/.web/index.html"),
            ]

    anonymous, authed, well_known, page = asyncio.run(main())
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="CalDAV"'
    assert authed.status_code == 207 and "/alice/" in authed.text
    assert well_known.status_code == 301
    # [web] type = none sends every page of the interface to Radicale's placeholder
    assert page.status_code == web_status
    assert ("<!DOCTYPE html>" in page.text) is web
