"""The real nginx and SignedURLMiddleware(scheme="nginx") give the same verdict on the
same URLs: both servers run on loopback and get the same raw request-targets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from edgeward.secrets import Secret
from middleware.signed.middleware import SignedURLMiddleware
from middleware.signed.nginx_scheme import NginxScheme
from tests.middleware.signed.rawhttp import get
from tests.support.net import free_port
from tests.support.servers import nginx, uvicorn_server

pytestmark = pytest.mark.slow

SECRET = "secret"
HTTP_BLOCK = """
access_log off;
server {
    listen 127.0.0.1:%(port)d;
    location /s/ {
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "$secure_link_expires$uri$remote_addr %(secret)s";
        if ($secure_link = "") { return 403; }
        if ($secure_link = "0") { return 410; }
        return 200 "ok\\n";
    }
}
"""


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok\n"})


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(nginx port, uvicorn port) on 127.0.0.1; clients may connect from 127.0.0.2."""
    port = free_port()
    block = HTTP_BLOCK % {"port": port, "secret": SECRET}
    app = SignedURLMiddleware(
        ok_app, scheme="nginx", secret=Secret(SECRET), protect=("/s/",), leeway=0
    )
    with (
        nginx(block, Path(tmp_path_factory.mktemp("nginx"))),
        uvicorn_server(app) as base,
    ):
        yield port, int(base.rsplit(":", 1)[1])


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _flip_unused(token: str) -> str:
    """The same 16 bytes spelled differently: the 22nd character carries 2 bits of data
    and 4 unused ones; nginx's decoder ignores the unused ones."""
    return token[:-1] + _B64URL[_B64URL.index(token[-1]) ^ 1]


def _cases() -> list[tuple[str, bytes, str, int]]:
    scheme = NginxScheme(Secret(SECRET))
    future = int(time.time()) + 3600
    past = int(time.time()) - 3600
    valid = scheme.sign("/s/link", expires_at=future, remote_addr="127.0.0.1")
    token = valid.split("md5=")[1].split("&")[0]
    docs = "/s/link?md5=_e4Nc3iduzkWRm01TBBNYw&expires=2147483647"
    for_other = scheme.sign("/s/link", expires_at=future, remote_addr="127.0.0.2")
    return [
        # (name, target, client source address, expected status)
        ("valid", valid.encode(), "127.0.0.1", 200),
        ("nginx docs example", docs.encode(), "127.0.0.1", 200),
        (
            "valid with a query",
            scheme.sign("/s/a?x=1", expires_at=future, remote_addr="127.0.0.1").encode(),
            "127.0.0.1",
            200,
        ),
        (
            "encoded and dot segments",
            valid.replace("/s/link", "/s/./x/../%6Cink").encode(),
            "127.0.0.1",
            200,
        ),
        ("padded token", valid.replace(token, token + "==").encode(), "127.0.0.1", 200),
        ("tampered path", valid.replace("/s/link", "/s/linq").encode(), "127.0.0.1", 403),
        (
            "tampered token",
            valid.replace(token, ("B" if token[0] == "A" else "A") + token[1:]).encode(),
            "127.0.0.1",
            403,
        ),
        ("extended expiry", valid.replace(str(future), str(future + 1)).encode(), "127.0.0.1", 403),
        (
            "expired",
            scheme.sign("/s/link", expires_at=past, remote_addr="127.0.0.1").encode(),
            "127.0.0.1",
            410,
        ),
        (
            "expired forgery",
            scheme.sign("/s/link", expires_at=past, remote_addr="127.0.0.1")
            .replace("/s/link", "/s/linq")
            .encode(),
            "127.0.0.1",
            403,
        ),
        ("missing parameters", b"/s/link", "127.0.0.1", 403),
        # nginx's own quirks, which the middleware reproduces:
        (
            "parameter names are case-insensitive",
            valid.replace("md5=", "MD5=").encode(),
            "127.0.0.1",
            200,
        ),
        ("the first md5 wins", (valid + "&md5=AAAA").encode(), "127.0.0.1", 200),
        (
            "unused bits of the last token char",
            valid.replace(token, _flip_unused(token)).encode(),
            "127.0.0.1",
            200,
        ),
        ("merged slashes", valid.replace("/s/link", "//s///link").encode(), "127.0.0.1", 200),
        ("unsigned path reached with dots", b"/x/../s/linq", "127.0.0.1", 403),
        ("unsigned path reached with slashes", b"//s/linq", "127.0.0.1", 403),
        ("no expires", f"/s/link?md5={token}".encode(), "127.0.0.1", 403),
        ("expires zero", f"/s/link?md5={token}&expires=0".encode(), "127.0.0.1", 403),
        ("signed for another client", for_other.encode(), "127.0.0.1", 403),
        ("the other client itself", for_other.encode(), "127.0.0.2", 200),
        ("valid link sent from another client", valid.encode(), "127.0.0.2", 403),
    ]


CASES = _cases()


@pytest.mark.parametrize(
    ("target", "source", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_nginx_and_middleware_agree(
    servers: tuple[int, int], target: bytes, source: str, expected: int
) -> None:
    nginx_port, app_port = servers
    assert get(nginx_port, target, source=source) == expected, "nginx"
    assert get(app_port, target, source=source) == expected, "middleware"
