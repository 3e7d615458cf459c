"""One-time downloads behind expiring signed links (for a tool that hands out credentials).

A tool gives a person their files (a VPN profile, a CalDAV account profile) through a
link that is signed by the middleware's own :func:`middleware.signed.sign_url`, checked by
:class:`~middleware.signed.SignedURLMiddleware`, expires, and works **once**:

- :class:`NonceStore` (SQLite, a table pair in the tool's own database): link nonces with
  their subject (an opaque id the tool resolves), file claims, and an audit row for every
  answer. A claim is one ``UPDATE ... WHERE used IS NULL``: two racing requests cannot
  both win.
- :func:`onetime_app`: the ASGI app. ``GET <prefix><nonce>?exp&kid&sig`` is the page:
  valid → 200 once (the nonce is spent), then 404; expired → 410; any changed byte →
  403 (the middleware answers those). The page shows a QR code and one button per file;
  each button is its own signed, short-lived, single-use link
  ``<prefix><nonce>/<file>``. A subject the tool no longer knows (a removed device) → 404.
  Nothing else is served: ``/`` and every other path are 404, so nothing lists subjects.

The tool supplies ``resolve(subject) -> Bundle | None`` (what to hand out, computed at
request time so a removal takes effect at once) and a counter labelled by result.
"""

from __future__ import annotations

import base64
import html
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from middleware.signed import KeyRing, SignedURLMiddleware, sign_url

Result = Literal["ok", "used", "unknown", "gone", "expired", "forged", "corrupted"]
RESULTS: Final[tuple[Result, ...]] = (
    "ok",
    "used",
    "unknown",
    "gone",
    "expired",
    "forged",
    "corrupted",
)
NONCE_BYTES: Final = 16
FILE_LINK_SECONDS: Final = 600  # a button works for ten minutes after the page was opened

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS onetime_links (
    nonce TEXT PRIMARY KEY, subject TEXT NOT NULL, created REAL NOT NULL,
    expires INTEGER NOT NULL, used REAL
);
CREATE TABLE IF NOT EXISTS onetime_files (
    nonce TEXT NOT NULL, name TEXT NOT NULL, used REAL NOT NULL, PRIMARY KEY (nonce, name)
);
CREATE TABLE IF NOT EXISTS onetime_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, nonce TEXT, subject TEXT,
    item TEXT NOT NULL, result TEXT NOT NULL, status INTEGER NOT NULL, client TEXT,
    user_agent TEXT
);
"""


@dataclass(frozen=True)
class Download:
    name: str  # file name, also the last path segment of its link
    data: bytes
    content_type: str
    label: str  # the button's text


@dataclass(frozen=True)
class Bundle:
    title: str
    downloads: tuple[Download, ...]
    qr_png: bytes | None = None  # shown on the page (e.g. a WireGuard config to scan)
    qr_caption: str = ""
    notes: tuple[str, ...] = ()  # short lines shown on the page (e.g. a .p12 password)


class Counter(Protocol):
    def labels(self, *values: str) -> Any: ...


@dataclass(frozen=True)
class AuditRow:
    ts: float
    nonce: str | None
    subject: str | None
    item: str
    result: str
    status: int
    client: str | None
    user_agent: str | None


class NonceStore:
    """Link nonces, file claims and the audit table, in the SQLite file ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # One short connection per operation: safe from any thread of the server.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def issue(self, subject: str, expires_at: int) -> str:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        with self._db() as db:
            db.execute(
                "INSERT INTO onetime_links VALUES (?, ?, ?, ?, NULL)",
                (nonce, subject, time.time(), expires_at),
            )
        return nonce

    def subject(self, nonce: str) -> tuple[str, bool] | None:
        """(subject, already used) of a nonce, or None if unknown."""
        with self._db() as db:
            row = db.execute(
                "SELECT subject, used FROM onetime_links WHERE nonce = ?", (nonce,)
            ).fetchone()
        return None if row is None else (str(row[0]), row[1] is not None)

    def claim(self, nonce: str) -> bool:
        with self._db() as db:
            cur = db.execute(
                "UPDATE onetime_links SET used = ? WHERE nonce = ? AND used IS NULL",
                (time.time(), nonce),
            )
        return cur.rowcount == 1

    def claim_file(self, nonce: str, name: str) -> bool:
        with self._db() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO onetime_files SELECT nonce, ?, ? FROM onetime_links"
                " WHERE nonce = ? AND used IS NOT NULL",
                (name, time.time(), nonce),
            )
        return cur.rowcount == 1

    def count_issued(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM onetime_links").fetchone()[0])

    def audit(self, row: AuditRow) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO onetime_audit (ts, nonce, subject, item, result, status, client,"
                " user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.ts,
                    row.nonce,
                    row.subject,
                    row.item,
                    row.result,
                    row.status,
                    row.client,
                    row.user_agent,
                ),
            )

    def audit_rows(self) -> list[AuditRow]:
        with self._db() as db:
            rows = db.execute(
                "SELECT ts, nonce, subject, item, result, status, client, user_agent"
                " FROM onetime_audit ORDER BY id"
            ).fetchall()
        return [AuditRow(*r) for r in rows]


def make_link(
    store: NonceStore,
    keyring: KeyRing,
    subject: str,
    *,
    base_url: str,
    prefix: str,
    expires_in: int,
    now: float | None = None,
) -> str:
    """A new single-use link for ``subject``: ``base_url + prefix + nonce`` signed."""
    if expires_in <= 0:
        raise ValueError("expires_in must be a positive number of seconds")
    t = time.time() if now is None else now
    expires_at = int(t + expires_in)
    nonce = store.issue(subject, expires_at)
    target = sign_url(f"{prefix}{nonce}", keyring, expires_at=expires_at)
    return base_url.rstrip("/") + target


_STATUS_RESULT: Final[dict[int, Result]] = {410: "expired", 403: "forged", 400: "corrupted"}
_AUDIT_KEY: Final = "edgeward.onetime.audit"


class _Audit:
    """Counts and audits the answers the signed-URL check gives before the app runs."""

    def __init__(self, app: ASGIApp, store: NonceStore, counter: Counter, prefix: str) -> None:
        self.app = app
        self.store = store
        self.counter = counter
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen: dict[str, bool] = {}
        scope = dict(scope)
        scope[_AUDIT_KEY] = seen  # shared with the app through the middleware's scope copy
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if seen or not scope["path"].startswith(self.prefix):
            return
        result = _STATUS_RESULT.get(status)
        if result is None:
            return
        nonce, _, item = scope["path"][len(self.prefix) :].partition("/")
        self.counter.labels(result).inc()
        self.store.audit(_row(scope, nonce[:64] or None, None, item or "page", result, status))


def _row(
    scope: Scope, nonce: str | None, subject: str | None, item: str, result: str, status: int
) -> AuditRow:
    headers = dict(scope.get("headers") or [])
    client = scope.get("client")
    agent = headers.get(b"user-agent", b"").decode("latin-1")[:200] or None
    return AuditRow(
        time.time(), nonce, subject, item, result, status, client[0] if client else None, agent
    )


def _not_found() -> Response:
    return PlainTextResponse("Not found: this link was used already or never existed.\n", 404)


async def _nothing(request: Request) -> Response:
    return PlainTextResponse("Not found.\n", 404)


class _Pages:
    """The two endpoints behind a one-time link: its page, then each file it offers once."""

    def __init__(
        self,
        store: NonceStore,
        keyring: KeyRing,
        resolve: Callable[[str], Bundle | None],
        counter: Counter,
        prefix: str,
        clock: Callable[[], float],
    ) -> None:
        self.store, self.keyring, self.resolve = store, keyring, resolve
        self.counter, self.prefix, self.clock = counter, prefix, clock

    def finish(
        self,
        request: Request,
        nonce: str,
        subject: str | None,
        item: str,
        result: Result,
        response: Response,
    ) -> Response:
        """Count and audit one answer (the one place that does), then send it uncached."""
        seen = request.scope.get(_AUDIT_KEY)
        if isinstance(seen, dict):
            seen["done"] = True
        self.counter.labels(result).inc()
        self.store.audit(_row(request.scope, nonce, subject, item, result, response.status_code))
        response.headers["cache-control"] = "no-store"
        response.headers["referrer-policy"] = "no-referrer"
        return response

    async def page(self, request: Request) -> Response:
        nonce = request.path_params["nonce"]
        known = self.store.subject(nonce)
        if known is None:
            return self.finish(request, nonce, None, "page", "unknown", _not_found())
        subject, _ = known
        bundle = self.resolve(subject)
        if bundle is None:
            return self.finish(request, nonce, subject, "page", "gone", _not_found())
        if not self.store.claim(nonce):
            return self.finish(request, nonce, subject, "page", "used", _not_found())
        links = {
            d.name: sign_url(
                f"{self.prefix}{nonce}/{d.name}",
                self.keyring,
                expires_at=int(self.clock() + FILE_LINK_SECONDS),
            )
            for d in bundle.downloads
        }
        page = HTMLResponse(_page(bundle, links))
        return self.finish(request, nonce, subject, "page", "ok", page)

    async def file(self, request: Request) -> Response:
        nonce, name = request.path_params["nonce"], request.path_params["name"]
        known = self.store.subject(nonce)
        if known is None:
            return self.finish(request, nonce, None, name, "unknown", _not_found())
        subject, _ = known
        bundle = self.resolve(subject)
        download = (
            None if bundle is None else next((d for d in bundle.downloads if d.name == name), None)
        )
        if download is None:
            return self.finish(request, nonce, subject, name, "gone", _not_found())
        if not self.store.claim_file(nonce, name):
            return self.finish(request, nonce, subject, name, "used", _not_found())
        response = Response(
            download.data,
            media_type=download.content_type,
            headers={"content-disposition": f'attachment; filename="{download.name}"'},
        )
        return self.finish(request, nonce, subject, name, "ok", response)


def onetime_app(
    store: NonceStore,
    keyring: KeyRing,
    resolve: Callable[[str], Bundle | None],
    counter: Counter,
    *,
    prefix: str = "/d/",
    leeway: int = 0,
    clock: Callable[[], float] = time.time,
) -> ASGIApp:
    """The ASGI app serving ``prefix``; see the module docstring."""
    pages = _Pages(store, keyring, resolve, counter, prefix, clock)
    inner = Starlette(
        routes=[
            Route(prefix + "{nonce:str}", pages.page),
            Route(prefix + "{nonce:str}/{name:str}", pages.file),
            Route("/{rest:path}", _nothing),
        ]
    )
    signed = SignedURLMiddleware(
        inner, keyring=keyring, protect=(prefix,), leeway=leeway, clock=clock
    )
    return _Audit(signed, store, counter, prefix)


_CSS: Final = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}"
    "a.button{display:block;margin:.6rem 0;padding:.9rem;border-radius:.6rem;background:#0a5;"
    "color:#fff;text-align:center;text-decoration:none;font-size:1.1rem}"
    "img{width:100%;max-width:22rem;image-rendering:pixelated}code{font-size:1.1rem}"
)


def _page(bundle: Bundle, links: dict[str, str]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        "<meta name='robots' content='noindex'>",
        f"<title>{esc(bundle.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(bundle.title)}</h1>",
        "<p>This page works once. Download what you need now; each button works once too.</p>",
    ]
    for d in bundle.downloads:
        parts.append(f"<a class='button' href='{esc(links[d.name])}'>{esc(d.label)}</a>")
    for note in bundle.notes:
        parts.append(f"<p>{esc(note)}</p>")
    if bundle.qr_png is not None:
        data = base64.b64encode(bundle.qr_png).decode("ascii")
        parts.append(f"<p>{esc(bundle.qr_caption)}</p>")
        parts.append(f"<img alt='QR code' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
