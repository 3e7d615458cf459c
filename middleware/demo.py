"""The demo app of ``make run``: a minimal Starlette app wrapped in the middleware.

:func:`prepare` (run by ``make run`` before the services start) writes the app's key file,
the inputs of ``dpi-report`` (``demo_report.py``) and the nginx in front of the app
(``demo_nginx.py``) under ``./var/``.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from edgeward.logs import get_logger
from edgeward.metrics import metrics_app
from middleware import demo_nginx, demo_report
from middleware.attribution.attributor import Attributor
from middleware.attribution.prefix_table import PrefixTable
from middleware.corruption.sensor import CorruptionSensorMiddleware
from middleware.signed import KeyRing, SignedURLMiddleware, new_key_line, sign_url

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeward demo</title></head>
<body>
<h1>edgeward demo app</h1>
<p>This app runs behind the edgeward middleware. Metrics: <a href="/metrics">/metrics</a>.</p>
<p><a href="/signed-links">Signed URLs</a>: one valid, one expired, one tampered link.</p>
<p><a href="/media/IMG_20%80%01.jpg">A link damaged in transit</a> (two characters replaced by
0x80 0x01): 400 <code>corrupted</code>, counted in
<code>edgeward_corruption_events_total</code>.</p>
</body></html>
"""


class AsgiEndpoint:
    """An ASGI app as a Starlette route endpoint: Starlette calls a plain function endpoint
    with a request, and prometheus_client's app is a plain function taking the ASGI three."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def build_app() -> ASGIApp:
    keyring = demo_keyring()
    inner = Starlette(
        routes=[
            Route("/", home),
            Route("/signed-links", signed_links_page(keyring)),
            Route("/media/{name:path}", media),
            # A Route, not a Mount: /metrics answers itself instead of redirecting to /metrics/.
            Route("/metrics", AsgiEndpoint(metrics_app())),
        ]
    )
    return with_corruption_sensor(with_signed_urls(inner, keyring))


# --- signed URLs ---
# ``prepare`` (run by ``make run``) writes a key file once; the app reads it from
# $EDGEWARD_VAR/middleware/keys.txt and protects /media/ with it.

log = get_logger("middleware.demo")

KEYS_FILE = Path("middleware") / "keys.txt"


def keys_path() -> Path:
    return Path(os.environ.get("EDGEWARD_VAR", "var")) / KEYS_FILE


def prepare(var: Path) -> list[str]:
    """Create ``var/middleware/keys.txt`` (one fresh key, mode 600) unless it exists,
    then the report's inputs and nginx's files; returns the banner lines."""
    path = var / KEYS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# signed-URL keys of the demo app: the first line signs, all verify\n")
            f.write(new_key_line("demo-1") + "\n")
    return [
        f"signed URLs: keys in {path}; valid/expired/tampered links at "
        "http://127.0.0.1:8000/signed-links",
        f"$ signed-url sign --keys {path} --expires-in 3600 /media/cat.txt",
        "corruption sensor: a damaged link on http://127.0.0.1:8000/, events in "
        f"{var / 'middleware' / 'corruption.jsonl'}, counts at http://127.0.0.1:8000/metrics",
        "$ curl -s http://127.0.0.1:8000/media/IMG_20%80%01.jpg   # damaged in transit: 400",
        "$ curl -s http://127.0.0.1:8000/metrics | grep '^edgeward_corruption_events_total'",
        *demo_report.prepare(var, path),
        *demo_nginx.prepare(var),
    ]


def demo_keyring() -> KeyRing:
    path = keys_path()
    if path.exists():
        return KeyRing.from_file(path)
    # Imported without `make run` (tests, a bare uvicorn): a key that lives as long as the app.
    log.warning("no key file at %s: signing demo links with a temporary key", path)
    return KeyRing.parse(new_key_line("ephemeral"))


def with_signed_urls(app: ASGIApp, keyring: KeyRing) -> ASGIApp:
    return SignedURLMiddleware(app, keyring=keyring, protect=("/media/",))


SIGNED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>signed URLs</title></head>
<body>
<h1>Signed URLs</h1>
<p>Everything under <code>/media/</code> needs a URL signed with a key from
<code>{keys}</code> (make more with <code>signed-url keygen</code>).</p>
<ul>
<li><a href="{valid}">valid</a> (expires in an hour) → 200, the app sees the key id</li>
<li><a href="{expired}">expired</a> (an hour ago) → 410 Gone</li>
<li><a href="{tampered}">tampered</a> (valid link, one path letter changed) → 403</li>
</ul>
<p>Counts by result: <code>edgeward_signed_url_checks_total</code> at
<a href="/metrics">/metrics</a>.</p>
</body></html>
"""


def signed_links_page(keyring: KeyRing) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def page(request: Request) -> HTMLResponse:
        now = int(time.time())
        valid = sign_url("/media/cat.txt?size=small", keyring, expires_at=now + 3600)
        expired = sign_url("/media/cat.txt?size=small", keyring, expires_at=now - 3600)
        tampered = valid.replace("/media/cat.txt", "/media/dog.txt", 1)
        links = {"valid": valid, "expired": expired, "tampered": tampered}
        return HTMLResponse(
            SIGNED_PAGE.format(
                keys=html.escape(str(keys_path())),
                **{k: html.escape(v, quote=True) for k, v in links.items()},
            )
        )

    return page


async def media(request: Request) -> PlainTextResponse:
    signed = request.state.signed_url
    expires = "never" if signed.exp is None else f"at {signed.exp} (unix time)"
    return PlainTextResponse(
        f"You reached {request.url.path} with a valid signature.\n"
        f"Key id: {signed.kid}; expires {expires}.\n"
        f"The app sees the query without signing parameters: {request.url.query!r}\n"
    )


# --- corruption sensor ---
# Outermost: it counts every request per AS and flags damaged ones before the signed-URL
# check runs. An iptoasn table at $EDGEWARD_VAR/middleware/ip2asn.tsv[.gz] is used if present
# (``make run`` writes a synthetic one; a real one comes from iptoasn.com); events go to
# $EDGEWARD_VAR/middleware/corruption.jsonl.


def with_corruption_sensor(app: ASGIApp) -> ASGIApp:
    var = Path(os.environ.get("EDGEWARD_VAR", "var")) / "middleware"
    tables = [var / "ip2asn.tsv", var / "ip2asn.tsv.gz"]
    table = next((PrefixTable.load(t) for t in tables if t.exists()), None)
    attributor = Attributor(table, events_path=var / "corruption.jsonl")
    return CorruptionSensorMiddleware(app, attributor=attributor)


def __getattr__(name: str) -> ASGIApp:
    # ``uvicorn middleware.demo:app`` builds the app on first access, not at import: make
    # run imports this module for ``prepare()`` before the key file exists.
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
