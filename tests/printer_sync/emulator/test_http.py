"""The emulator's HTTP/1.1 server: what a framework would hide (resets, stop listening)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from edgeward.pki import self_signed, write_pair
from printer_sync.emulator.http import HTTPServer, Request, Response


@pytest.mark.parametrize(
    ("headers", "body", "cookies", "form"),
    [
        ({}, b"", {}, {}),
        ({"cookie": "S=abc; o=1"}, b"", {"S": "abc", "o": "1"}, {}),
        ({"cookie": "\x00garbage;;=="}, b"", {}, {}),  # a broken header is no session, no crash
        ({}, b"a=1&b=&a=2", {}, {"a": "1", "b": ""}),  # first value wins, blanks kept
        ({}, b"x=%C3%A9&y=%FF", {}, {"x": "é", "y": "\ufffd"}),
    ],
)  # fmt: skip
def test_request_cookies_and_form(
    headers: dict[str, str], body: bytes, cookies: dict[str, str], form: dict[str, str]
) -> None:
    request = Request("POST", "/", headers, body)
    assert request.cookies == cookies
    assert request.form() == form


def _context(tmp: Path) -> ssl.SSLContext:
    issued = self_signed("EPSON-test")
    write_pair(issued, tmp / "key.pem", tmp / "cert.pem")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


Scenario = Callable[[HTTPServer, str, list[Request]], Awaitable[None]]


def _run(tmp: Path, scenario: Scenario, abort: Callable[[str, str], bool] | None = None) -> None:
    seen: list[Request] = []

    async def handler(request: Request) -> Response:
        seen.append(request)
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        return Response(f"{request.method} {request.path} {len(request.body)}")

    async def main() -> None:
        server = HTTPServer(handler, abort or (lambda method, path: False))
        port = await server.listen("127.0.0.1", 0, _context(tmp))
        try:
            await scenario(server, f"https://127.0.0.1:{port}", seen)
        finally:
            await server.close()

    asyncio.run(main())


def _client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, verify=False, timeout=10)  # noqa: S501 (self-signed)


def test_keep_alive_answers_with_the_printers_headers(tmp_path: Path) -> None:
    async def scenario(server: HTTPServer, url: str, seen: list[Request]) -> None:
        async with _client(url) as c:
            first = await c.post("/a?x=1", content=b"12345", headers={"X-Y": "z"})
            second = await c.get("/b")
        assert (first.text, second.text) == ("POST /a 5", "GET /b 0")
        assert first.headers["server"].startswith("EPSON_Linux")
        assert first.headers["cache-control"] == "no-cache"
        assert seen[0].headers["x-y"] == "z" and seen[0].body == b"12345"

    _run(tmp_path, scenario)


def test_a_handler_error_is_a_500_and_the_server_keeps_serving(tmp_path: Path) -> None:
    async def scenario(server: HTTPServer, url: str, seen: list[Request]) -> None:
        async with _client(url) as c:
            assert (await c.get("/boom")).status_code == 500
            assert (await c.get("/ok")).text == "GET /ok 0"

    _run(tmp_path, scenario)


def test_abort_check_resets_the_connection_before_the_handler_runs(tmp_path: Path) -> None:
    async def scenario(server: HTTPServer, url: str, seen: list[Request]) -> None:
        async with _client(url) as c:
            with pytest.raises(httpx.TransportError):
                await c.post("/upload", content=b"x" * 100_000)
            assert (await c.get("/other")).status_code == 200
        assert [r.path for r in seen] == ["/other"]

    _run(tmp_path, scenario, abort=lambda method, path: (method, path) == ("POST", "/upload"))


def test_stop_accepting_refuses_new_connections_until_listening_again(tmp_path: Path) -> None:
    async def scenario(server: HTTPServer, url: str, seen: list[Request]) -> None:
        assert server.listening
        server.stop_accepting()
        assert not server.listening and server.draining
        async with _client(url) as c:
            with pytest.raises(httpx.ConnectError):
                await c.get("/")
        await server.close()
        port = await server.listen("127.0.0.1", int(url.rsplit(":", 1)[1]), _context(tmp_path))
        assert not server.draining
        async with _client(f"https://127.0.0.1:{port}") as c:
            assert (await c.get("/back")).text == "GET /back 0"

    _run(tmp_path, scenario)


def test_close_drops_a_kept_alive_connection(tmp_path: Path) -> None:
    async def scenario(server: HTTPServer, url: str, seen: list[Request]) -> None:
        async with _client(url) as c:
            assert (await c.get("/one")).status_code == 200
            await server.close()
            with pytest.raises(httpx.TransportError):
                await c.get("/two")

    _run(tmp_path, scenario)
