"""The real nginx, the nginx scheme's API, ``signed-url verify --scheme nginx`` and
SignedURLMiddleware(scheme="nginx") give the same verdict on the same URLs.

Both servers run on loopback and get the same raw request-targets; the API and the CLI
get the same bytes. nginx has three locations: ``/s/`` hashes ``$secure_link_expires``
(the shipped ``deploy/nginx/secure-link.conf``), ``/a/`` hashes ``$arg_expires`` (the
other way people write it: both are the raw text), ``/t/`` uses the expression of
nginx-tests' ``secure_link.t`` (``secret$uri$arg_expires``). A verdict is ``valid``
(nginx 200), ``expired`` (410) or ``refused`` (403, or 400 when nginx or uvicorn refuses
the request line itself).

Ported from nginx-tests ``secure_link.t`` (its "new style with expires" cases, with the
parameter named ``md5``): padded and unpadded tokens, a token that decodes to 17 bytes,
one longer than 24 characters, one that is no base64, a mismatching one, none, not
expired, expired, ``expires=0``. Not ported: ``secure_link_secret`` (the "old style") and
links without an expiry, which this scheme does not offer.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from edgeward.secrets import Secret
from middleware.cli.signed_url import main as signed_url
from middleware.signed.middleware import SignedURLMiddleware
from middleware.signed.nginx_scheme import DEFAULT_TEMPLATE, NginxScheme, remote_addr_text
from tests.support.net import free_port
from tests.support.rawhttp import get
from tests.support.servers import nginx, uvicorn_server

pytestmark = pytest.mark.slow

SECRET = "secret"
TEMPLATE_T = "{secret}{uri}{expires}"  # secure_link.t's "secret$uri$arg_expires"
# Each location checks links with one secure_link_md5 expression, and answers 403 for a
# missing or wrong token, 410 for an expired link (as deploy/nginx/secure-link.conf does).
EXPRESSIONS = {
    "/s/": "$secure_link_expires$uri$remote_addr %(secret)s",
    "/a/": "$arg_expires$uri$remote_addr %(secret)s",
    "/t/": "%(secret)s$uri$arg_expires",
}
LOCATION = """
    location %(prefix)s {
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "%(expression)s";
        if ($secure_link = "") { return 403; }
        if ($secure_link = "0") { return 410; }
        return 200 "ok\\n";
    }"""
# nginx re-spells an address given in X-Real-IP as it spells every $remote_addr. Set for
# the server (the post-read phase): in a location, realip runs after "return". Requests
# without the header, as the other tests send, keep their own address.
REMOTE_ADDR = """
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location = /remote-addr { return 200 "$remote_addr"; }"""
HTTP_BLOCK = (
    "access_log off;\nserver {\n    listen 127.0.0.1:%(port)d;"
    + "".join(LOCATION % {"prefix": p, "expression": e} for p, e in EXPRESSIONS.items())
    + REMOTE_ADDR
    + "\n}\n"
)
Verdict = Literal["valid", "expired", "refused"]
_BY_STATUS: dict[int, Verdict] = {200: "valid", 410: "expired", 403: "refused", 400: "refused"}


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok\n"})


@pytest.fixture(autouse=True)
def _no_stale_log_handlers() -> None:
    """Other tests ran CLIs whose log handler writes to their captured (closed) stderr."""
    logging.getLogger().handlers[:] = []


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(nginx port, uvicorn port) on 127.0.0.1; clients may connect from 127.0.0.2."""
    port = free_port()
    block = HTTP_BLOCK % {"port": port, "secret": SECRET}
    inner = SignedURLMiddleware(
        ok_app, scheme="nginx", secret=Secret(SECRET), template=TEMPLATE_T, protect=("/t/",),
        leeway=0,
    )  # fmt: skip
    app = SignedURLMiddleware(
        inner, scheme="nginx", secret=Secret(SECRET), protect=("/s/", "/a/"), leeway=0
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


def tok(expression: bytes) -> str:
    """base64url_nopad(MD5(expression)): what nginx compares the md5 argument with."""
    return base64.urlsafe_b64encode(hashlib.md5(expression).digest()).rstrip(b"=").decode()


def _edge_cases() -> list[tuple[str, bytes, str, int]]:
    """The issue's disagreements and their neighbours, under both /s/ and /a/."""
    exp = str(int(time.time()) + 86400)
    ip = b"127.0.0.1 " + SECRET.encode()
    cases: list[tuple[str, bytes, str, int]] = []
    for prefix in ("/s/", "/a/"):

        def link(path: str, expires: str, over: bytes | None = None, tail: str = "") -> bytes:
            uri = (path if over is None else over.decode("latin-1")).encode("latin-1")
            token = tok(expires.encode() + uri + ip)
            return f"{path}?md5={token}&expires={expires}{tail}".encode("latin-1")

        p = prefix
        rows: list[tuple[str, bytes, int]] = [
            ("zero-padded expires, token over the raw text", link(p + "x", "0" + exp), 200),
            (
                "zero-padded expires, token over the number",
                link(p + "x", "0" + exp).replace(
                    tok(("0" + exp + p + "x").encode() + ip).encode(),
                    tok((exp + p + "x").encode() + ip).encode(),
                ),
                403,
            ),
            ("20-digit expires", link(p + "x", exp.zfill(20)), 200),
            ("21-digit expires", link(p + "x", exp.zfill(21)), 200),
            ("20-digit expires past time_t", link(p + "x", "1" + exp.zfill(19)), 403),
            ("the largest time_t", link(p + "x", "9223372036854775807"), 200),
            ("one past the largest time_t", link(p + "x", "9223372036854775808"), 403),
            ("expires with a plus", link(p + "x", "+" + exp), 403),
            ("expires negative", link(p + "x", "-" + exp), 403),
            ("expires not a number", link(p + "x", "soon"), 403),
            ("expires empty", link(p + "x", ""), 403),
            ("%00 in the path", link(p + "a%00b", exp, over=(p + "a\x00b").encode("latin-1")), 400),
            ("# in the path", link(p + "a#b", exp), 403),
            ("# after the query", link(p + "x", exp, tail="#frag"), 200),
            ("# inside the query", link(p + "x", exp).replace(b"&expires", b"#&expires"), 403),
            ("%23 in the path", link(p + "a%23b", exp, over=(p + "a#b").encode()), 200),
            ("%2F%2F merged", link(p + "a%2F%2Fb", exp, over=(p + "a/b").encode()), 200),
            ("%2F%2F not merged", link(p + "a%2F%2Fb", exp, over=(p + "a//b").encode()), 403),
            ("%3F in the path", link(p + "a%3Fb", exp, over=(p + "a?b").encode()), 200),
            ("%25 in the path", link(p + "a%25b", exp, over=(p + "a%b").encode()), 200),
            ("%FF in the path", link(p + "a%FF", exp, over=(p + "a\xff").encode("latin-1")), 200),
            ("%2e segment", link(p + "a/%2e", exp, over=(p + "a/").encode()), 200),
            ("dot-dot segment", link(p + "a/..", exp, over=p.encode()), 200),
            ("a bad percent escape", link(p + "a%", exp, over=(p + "a%").encode()), 400),
            ("a comma in the token", link(p + "x", exp).replace(b"&expires", b"==,x&expires"), 403),
            ("?? before the arguments", link(p + "x", exp).replace(b"?md5", b"??md5"), 403),
            ("a ? after expires", link(p + "x", exp, tail="?"), 403),
        ]
        cases += [(f"{prefix} {name}", target, "127.0.0.1", code) for name, target, code in rows]
    return cases


def _other_first(token: str) -> str:
    return ("B" if token[0] == "A" else "A") + token[1:]


def _secure_link_t_cases() -> list[tuple[str, bytes, str, int]]:
    """nginx-tests' secure_link.t, "new style with expires", under /t/."""
    future = str(int(time.time()) + 86400)
    past = str(int(time.time()) - 86400)

    def t(expires: str) -> str:
        return tok(f"{SECRET}/t/expires.html{expires}".encode())

    base = "/t/expires.html?md5="
    rows = [
        ("request md5 not expired", f"{base}{t(future)}&expires={future}", 200),
        ("request md5 padded", f"{base}{t(future)}==&expires={future}", 200),
        ("request md5 too long", f"{base}{t(future)}QQ&expires={future}", 403),
        ("request md5 too long encoding", f"{base}{t(future)}-TOOLONG&expires={future}", 403),
        ("request md5 decode error", f"{base}BADHASHLENGTH&expires={future}", 403),
        # secure_link.t changes the last character; here the first, whose bits all count
        ("request md5 mismatch", f"{base}{_other_first(t(future))}&expires={future}", 403),
        ("request no hash", f"/t/expires.html?expires={future}", 403),
        ("request md5 expired", f"{base}{t(past)}&expires={past}", 410),
        ("request md5 invalid expiration", f"{base}{t('0')}&expires=0", 403),
    ]
    return [
        (f"secure_link.t {name}", target.encode(), "127.0.0.1", code) for name, target, code in rows
    ]


CASES = _cases() + _edge_cases() + _secure_link_t_cases()


def _api(target: bytes, source: str) -> Verdict:
    template = TEMPLATE_T if target.startswith(b"/t/") else DEFAULT_TEMPLATE
    verdict = NginxScheme(Secret(SECRET), template).verify(target, source)
    return verdict.result if verdict.result in ("valid", "expired") else "refused"  # type: ignore[return-value]


def _cli(target: bytes, source: str, secret: Path, capsys: pytest.CaptureFixture[str]) -> Verdict:
    template = ["--template", TEMPLATE_T] if target.startswith(b"/t/") else []
    argv = ["verify", "--scheme", "nginx", "--secret-file", str(secret), "--remote-addr", source]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = signed_url([*argv, *template, target.decode("utf-8", "surrogateescape")])
    finally:  # the CLI logs to this test's captured stderr, which closes after the test
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    assert "Traceback" not in err and code in (0, 1, 2), err
    if code == 0:
        return "valid"
    return "expired" if "invalid: expired" in out else "refused"


@pytest.mark.parametrize(
    ("target", "source", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_nginx_api_cli_and_middleware_agree(
    servers: tuple[int, int],
    target: bytes,
    source: str,
    expected: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nginx_port, app_port = servers
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    status = get(nginx_port, target, source=source)
    assert status == expected, "nginx"
    want = _BY_STATUS[status]
    got = {
        "middleware": _BY_STATUS.get(get(app_port, target, source=source)),
        "api": _api(target, source),
        "cli": _cli(target, source, secret, capsys),
    }
    assert got == dict.fromkeys(got, want)


def _addresses() -> list[str]:
    """Every shape ngx_inet6_ntop treats apart, and random addresses with zero runs."""
    rng = random.Random(15)
    shapes = [
        "::", "::1", "::2", "::ff", "::100", "::101", "::102", "::1.2.3.4", "::0:1:0",
        "::ffff:127.0.0.1", "::ffff:0.0.0.1", "::fffe:1.2.3.4", "1::", "1::1",
        "2001:db8::1", "2001:db8:0:0:1:0:0:1", "1:0:0:2:0:0:0:3", "fe80::1:0:0:0",
        "1:2:3:4:5:6:7:8", "0:1:2:3:4:5:6:7", "1:0:2:0:3:0:4:0", "127.0.0.1", "10.0.0.255",
    ]  # fmt: skip
    for _ in range(200):
        groups = [rng.choice((0, 0, 0, 1, 0xFFFF, rng.randrange(1 << 16))) for _ in range(8)]
        shapes.append(str(ipaddress.IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups))))
    return shapes


def test_remote_addr_text_is_how_nginx_spells_remote_addr(servers: tuple[int, int]) -> None:
    """A link signed with ``--remote-addr`` must hash the text nginx hashes: every address
    (sent fully written out, so nginx does the spelling) comes back as we spell it."""
    port, _ = servers
    wrong = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for address in _addresses():
            written_out = ipaddress.ip_address(address).exploded
            reply = client.get("/remote-addr", headers={"X-Real-IP": written_out})
            assert reply.status_code == 200, address
            if reply.text != remote_addr_text(address):
                wrong.append((address, reply.text, remote_addr_text(address)))
    assert not wrong
