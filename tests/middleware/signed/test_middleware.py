"""SignedURLMiddleware under a real uvicorn, and fuzzed scopes straight into it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from edgeward.secrets import Secret
from middleware import KeyRing, SignedURLMiddleware, sign_url
from middleware.signed.middleware import _SIGNED_CACHE
from middleware.signed.outcome import BODY, RESULTS, SignedURL
from tests.support.rawhttp import fetch
from tests.support.servers import uvicorn_server
from tests.support.signed_url import OTHER_SECRET, VECTOR_SECRET

RING = KeyRing.parse(f"k2 {OTHER_SECRET}\nk1 {VECTOR_SECRET}")
V1 = "/media/cat.jpg?w=640&exp=1893456000&kid=k1&sig=TMcIkLTxPEOGj13GmfqCAzO76DSMvvZL8Uw3K3HxG3s"
NOW = 1_800_000_000.0


async def echo(request: Request) -> JSONResponse:
    signed = getattr(request.state, "signed_url", None)
    return JSONResponse(
        {
            "path": request.url.path,
            "query": request.url.query,
            "params": dict(request.query_params),
            "signed": None if signed is None else [signed.scheme, signed.kid, signed.exp],
        }
    )


APP = Starlette(routes=[Route("/{rest:path}", echo)])


def checks(result: str) -> float:
    value = REGISTRY.get_sample_value("edgeward_signed_url_checks_total", {"result": result})
    return value or 0.0


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    app = SignedURLMiddleware(APP, keyring=RING, protect=("/media/", "/dl/"), clock=lambda: NOW)
    with uvicorn_server(app) as url:
        yield url


def _swap(url: str, old: str, new: str) -> str:
    return url.replace(old, new, 1)


CASES = [
    # (name, target, status, result)
    ("valid, old key", V1, 200, "valid"),
    ("unprotected path", "/public/x?a=1&sig=zz", 200, None),
    ("missing", "/media/cat.jpg?w=640", 403, "missing"),
    ("malformed", V1[:-3], 403, "malformed"),
    ("bad signature", _swap(V1, "w=640", "w=999"), 403, "bad_signature"),
    ("unknown key", _swap(V1, "kid=k1", "kid=k7"), 403, "unknown_key"),
    ("corrupted", _swap(V1, "cat", "c%80%01"), 400, "corrupted"),
    ("prefix spelled with an escape", "/%6Dedia/cat.jpg", 403, "missing"),
    ("prefix reached through a double slash", "//media/cat.jpg", 403, "missing"),
    ("prefix reached through dot segments", "/x/../media/cat.jpg", 403, "missing"),
    ("a near miss is not protected", "/mediax/cat.jpg", 200, None),
]


@pytest.mark.parametrize(
    ("target", "status", "result"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_outcomes_over_http(base: str, target: str, status: int, result: str | None) -> None:
    before = checks(result) if result else 0.0
    status_seen, body = fetch(int(base.rsplit(":", 1)[1]), target.encode())
    assert status_seen == status
    if result:
        assert checks(result) == before + 1
    if status != 200:  # one short line, and no reason unless debug=True
        assert body.decode() == BODY[status] + "\n"


def test_valid_request_reaches_app_without_signing_params(base: str) -> None:
    r = httpx.get(base + V1, timeout=10)
    assert r.status_code == 200
    assert r.json() == {
        "path": "/media/cat.jpg",
        "query": "w=640",
        "params": {"w": "640"},
        "signed": ["native", "k1", 1893456000],
    }
    fresh = sign_url("/dl/a%20b.pdf", RING)  # newest key, no expiry, no other query
    r = httpx.get(base + fresh, timeout=10)
    assert r.json()["signed"] == ["native", "k2", None]
    assert r.json()["query"] == ""


def test_unprotected_paths_are_not_checked_or_counted(base: str) -> None:
    before = {r: checks(r) for r in RESULTS}
    r = httpx.get(base + "/public/x?a=1&kid=k1&sig=zz", timeout=10)
    assert r.json()["query"] == "a=1&kid=k1&sig=zz" and r.json()["signed"] is None
    assert {r: checks(r) for r in RESULTS} == before


def test_expired_is_410_and_counted(base: str) -> None:
    expired = sign_url("/media/old.png", RING, expires_at=int(NOW) - 31)  # beyond leeway 30
    within = sign_url("/media/old.png", RING, expires_at=int(NOW) - 29)
    before = checks("expired")
    r = httpx.get(base + expired, timeout=10)
    assert (r.status_code, r.text) == (410, "Gone: this link has expired.\n")
    assert checks("expired") == before + 1
    assert httpx.get(base + within, timeout=10).status_code == 200


def test_all_results_are_exported_from_start(base: str) -> None:
    text = httpx.get(base.replace("/media", "") + "/x", timeout=10)  # any request
    assert text.status_code == 200
    for result in RESULTS:
        assert (
            REGISTRY.get_sample_value("edgeward_signed_url_checks_total", {"result": result})
            is not None
        )


# --- direct ASGI calls ------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})


def call(app: Any, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def http_scope(raw_path: bytes, query: bytes, path: str | None = None) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": raw_path.decode("latin-1") if path is None else path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": [],
        "client": ("127.0.0.1", 5000),
    }


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_non_http_scopes_pass_untouched(kind: str) -> None:
    inner = Recorder()
    scope: Scope = {"type": kind, "path": "/media/x", "raw_path": b"/media/x", "query_string": b""}
    call(SignedURLMiddleware(inner, keyring=RING), scope)
    assert inner.scopes == [scope] and inner.scopes[0] is scope


def test_without_raw_path_the_path_is_re_encoded() -> None:
    inner = Recorder()
    url = sign_url("/media/a%20b/%C3%A9t%C3%A9.png", RING)
    query = url.split("?")[1]
    scope = http_scope(b"", query.encode(), path="/media/a b/été.png")
    del scope["raw_path"]
    sent = call(SignedURLMiddleware(inner, keyring=RING), scope)
    assert sent[0]["status"] == 200
    assert inner.scopes[0]["query_string"] == b""
    assert "state" not in scope  # the caller's scope is not modified


def test_without_raw_path_odd_text_is_refused_not_crashed() -> None:
    scope = http_scope(b"", b"kid=k1&sig=" + b"A" * 43, path="/media/\udcff\ud800")
    del scope["raw_path"]
    assert call(SignedURLMiddleware(Recorder(), keyring=RING), scope)[0]["status"] == 403


def test_debug_adds_the_reason() -> None:
    app = SignedURLMiddleware(Recorder(), keyring=RING, debug=True)
    sent = call(
        app, http_scope(b"/media/cat.jpg", _swap(V1, "w=640", "w=1").split("?")[1].encode())
    )
    assert sent[0]["status"] == 403
    assert b"(bad_signature: signature does not match)" in sent[1]["body"]


def test_nginx_scheme_uses_the_client_address() -> None:
    app = SignedURLMiddleware(
        Recorder(), scheme="nginx", secret=Secret("secret"), protect=("/s/",), leeway=0
    )
    scope = http_scope(b"/s/link", b"md5=_e4Nc3iduzkWRm01TBBNYw&expires=2147483647")
    assert call(app, scope)[0]["status"] == 200
    assert call(app, {**scope, "client": ("10.0.0.1", 1)})[0]["status"] == 403


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, "needs keyring"),
        ({"keyring": RING, "protect": "/media/"}, "sequence of prefixes"),
        ({"keyring": RING, "protect": ()}, "prefixes starting with '/'"),
        ({"keyring": RING, "protect": ("media/",)}, "prefixes starting with '/'"),
        ({"keyring": RING, "leeway": -1}, "leeway"),
        ({"keyring": RING, "scheme": "jwt"}, "scheme must be"),
        ({"scheme": "nginx"}, "needs secret"),
        ({"scheme": "nginx", "secret": Secret("s"), "template": "{uri} {secret}"}, "{expires}"),
    ],
)
def test_configuration_is_checked_once(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        SignedURLMiddleware(APP, **kwargs)
    assert error in str(info.value)


def test_no_key_material_in_logs_metrics_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    app = SignedURLMiddleware(Recorder(), keyring=RING, debug=True)
    with caplog.at_level(logging.DEBUG):
        for target in (V1, _swap(V1, "cat", "c%80%01"), _swap(V1, "w=640", "w=1")):
            path, query = target.split("?")
            call(app, http_scope(path.encode(), query.encode()))
    exposed = caplog.text + repr(app) + httpx_metrics_text()
    assert "corrupted in transit: dpi_signature" in caplog.text
    for secret in (VECTOR_SECRET, OTHER_SECRET, "secret-key-for-test-vectors"):
        assert secret not in exposed


def httpx_metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY).decode()


_raw = st.binary(max_size=80)


@settings(max_examples=150)
@given(
    raw_path=st.one_of(_raw.map(lambda b: b"/media/" + b), _raw),
    query=st.one_of(_raw, st.sampled_from([V1.split("?")[1].encode()]).map(lambda q: q + b"&")),
)
def test_fuzzed_targets_never_raise_or_500(raw_path: bytes, query: bytes) -> None:
    inner = Recorder()
    sent = call(
        SignedURLMiddleware(inner, keyring=RING, clock=lambda: NOW), http_scope(raw_path, query)
    )
    assert sent[0]["status"] in (200, 400, 403, 410)
    if sent[0]["status"] == 200 and raw_path.startswith(b"/media/"):
        assert b"sig=" not in inner.scopes[0]["query_string"]


# --- the valid path: the copy the app gets ------------------------------------------------

_values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.binary(max_size=5))


@settings(max_examples=150, deadline=None)
@given(
    extra=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "state"), _values, max_size=6),
    state=st.one_of(st.none(), st.dictionaries(st.text(max_size=8), _values, max_size=4)),
    exp=st.one_of(st.none(), st.integers(int(NOW), 4_000_000_000)),
    query=st.sampled_from(["", "w=640", "a=1&b=%20"]),
)
def test_the_app_gets_the_scope_a_plain_copy_would_give(
    extra: dict[str, Any], state: dict[str, Any] | None, exp: int | None, query: str
) -> None:
    """The app's scope is the caller's with the signing parameters gone and the SignedURL in
    a copy of the state, exactly as ``{**scope, ...}`` would build it; the caller's scope
    and state stay as they were. (The middleware copies with dict() and reuses SignedURLs.)"""
    target = "/media/cat.jpg" + (f"?{query}" if query else "")
    path, _, signed_query = sign_url(target, RING, expires_at=exp).partition("?")
    scope: dict[str, Any] = {**extra, **http_scope(path.encode(), signed_query.encode())}
    if state is not None:
        scope["state"] = state
    before = {**scope, "state": dict(state)} if state is not None else dict(scope)
    inner = Recorder()
    sent = call(SignedURLMiddleware(inner, keyring=RING, clock=lambda: NOW), scope)
    assert sent[0]["status"] == 200
    signed = SignedURL("native", "k2", exp)
    assert inner.scopes == [
        {
            **scope,
            "query_string": query.encode(),
            "state": {**(state or {}), "signed_url": signed},
        }
    ]
    assert scope == before and inner.scopes[0] is not scope
    if state is not None:
        assert scope["state"] is state and "signed_url" not in state


def test_signed_urls_are_shared_per_key_and_expiry_and_the_cache_stays_bounded() -> None:
    inner = Recorder()
    app = SignedURLMiddleware(inner, keyring=RING, clock=lambda: NOW)
    expiries = [int(NOW) + 100 + i for i in range(_SIGNED_CACHE + 10)]
    for exp in [*expiries, expiries[-1]]:
        path, _, query = sign_url("/media/a.png", RING, expires_at=exp).partition("?")
        assert call(app, http_scope(path.encode(), query.encode()))[0]["status"] == 200
    seen = [scope["state"]["signed_url"] for scope in inner.scopes]
    assert seen == [SignedURL("native", "k2", exp) for exp in [*expiries, expiries[-1]]]
    assert seen[-1] is seen[-2]  # the same link again: the same (immutable) object
    assert len(app._signed) <= _SIGNED_CACHE
