"""The probe policy: the gateway owns the namespace of its dedicated port.

Apple's calendar daemons probe paths of other servers' layouts (``/principals/``,
``/dav/principals/``, ``/caldav/v2``, ``/calendar/dav/<user>/user/`` …) and ask the user
for the password again after **any** 401. Radicale answers 401 on all of them. So:

- ``/.well-known/caldav`` and ``/.well-known/carddav`` (any method, trailing slash or not,
  credentials or not) → 301 to ``/`` with ``Cache-Control: no-cache`` (RFC 6764);
- ``/`` and the paths of real principals → Radicale (discovery keeps its required 401);
  except ``GET``/``HEAD`` of ``/`` without the web interface: Radicale would redirect a
  browser to ``/.web``, which is then a 404, so the gateway answers a short plain page
  saying what the address is for (no 401 either: a browser would prompt for a password);
- ``/.web`` → Radicale only when the web interface is enabled, and without the
  ``Authorization`` header so that it can never answer 401;
- headers only a reverse proxy may set (``X-Script-Name``, ``X-Forwarded-*``, ``X-Remote-User``
  …) are dropped before Radicale sees the request: the gateway is the edge. Names are
  compared the way the WSGI bridge maps them to ``HTTP_*`` keys (case-insensitive, ``-`` and
  ``_`` alike), so ``X_Script_Name`` is dropped too;
- everything else → 404 without ``WWW-Authenticate``, whatever the method and credentials.

Mode ``denylist`` inverts the last rule: only the known probe families get 404 and every
other path goes to Radicale. Trade-off: in ``principals`` mode anyone can tell a real
username (401) from an unknown one (404); in ``denylist`` mode usernames stay hidden
but a probe path nobody has seen yet gets Radicale's 401 and re-prompts the device.

Every decision is taken on :func:`caldav_gateway.paths.normalise` of ``scope["path"]``,
the path Radicale itself will act on, so encodings and dot segments cannot bypass it.
"""

from __future__ import annotations

from typing import Final, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caldav_gateway import metrics, paths
from caldav_gateway.clients import client_family
from caldav_gateway.principals import Principals
from edgeward.logs import get_logger

log = get_logger("caldav_gateway.policy")

PolicyMode = Literal["principals", "denylist"]

# Headers only a reverse proxy may set. The gateway is the edge, so a client sending them
# is lying; and with X-Forwarded-* present Radicale strips an X-Script-Name prefix from the
# path, which would make it act on another path than the one the policy judged.
_PROXY_HEADERS: Final = frozenset(
    {
        b"x-script-name",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-server",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"forwarded",
        b"x-remote-user",
        b"x-remote-addr",
        b"remote-user",
    }
)
_WEB_DROPPED: Final = _PROXY_HEADERS | {b"authorization"}


def wsgi_name(header: bytes) -> bytes:
    """The header's identity once in a WSGI environ: ``X_Script_Name`` is ``x-script-name``."""
    return header.lower().replace(b"_", b"-")


def without(
    headers: list[tuple[bytes, bytes]], names: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if wsgi_name(k) not in names]


_NOT_FOUND_BODY: Final = b"Not Found\n"
_REDIRECT_BODY: Final = b"Moved Permanently\n"
_ROOT_PAGE: Final = (
    b"This address serves CalDAV for calendar apps, not web pages.\n"
    b"Add it as a CalDAV account (server: this address, with your username and password);\n"
    b"the apps find your calendars through /.well-known/caldav.\n"
)


class ProbePolicy:
    def __init__(
        self,
        app: ASGIApp,
        *,
        principals: Principals,
        mode: PolicyMode = "principals",
        web: bool = False,
    ) -> None:
        if mode not in ("principals", "denylist"):
            raise ValueError(f"policy mode must be 'principals' or 'denylist', not {mode!r}")
        self.app = app
        self.principals = principals
        self.mode = mode
        self.web = web
        deny = set(paths.PROBE_FAMILIES)
        if web:
            deny.discard(".web")
        self._deny: frozenset[str] = frozenset(deny)

    def decide(
        self, raw_path: str, method: str = "PROPFIND"
    ) -> Literal["redirect", "radicale", "web", "root-page", "not-found"]:
        """What to do with a ``method`` request for ``scope["path"]`` (public for tests)."""
        path = paths.normalise(raw_path)
        if paths.is_well_known_redirect(path):
            return "redirect"
        if path == "/":
            return "root-page" if method in ("GET", "HEAD") and not self.web else "radicale"
        first = paths.first_segment(path)
        if first == ".web":
            return "web" if self.web else "not-found"
        if self.mode == "principals":
            return "radicale" if first in self.principals.names() else "not-found"
        if first.lower() in self._deny:
            return "not-found"
        return "radicale"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = self.decide(scope["path"], scope["method"])
        if decision == "radicale":
            headers = without(scope["headers"], _PROXY_HEADERS)
            await self.app({**scope, "headers": headers}, receive, send)
        elif decision == "web":
            # The web UI's files need no login (its script authenticates against "/");
            # without credentials Radicale cannot answer 401 here.
            headers = without(scope["headers"], _WEB_DROPPED)
            await self.app({**scope, "headers": headers}, receive, send)
        elif decision == "redirect":
            await _answer(
                scope,
                send,
                301,
                [(b"location", b"/"), (b"cache-control", b"no-cache")],
                _REDIRECT_BODY,
            )
        elif decision == "root-page":
            await _answer(scope, send, 200, [(b"cache-control", b"no-cache")], _ROOT_PAGE)
        else:
            family, client = paths.family_of(paths.normalise(scope["path"])), _client(scope)
            metrics.PROBE_NOT_FOUND.labels(family, client).inc()
            log.debug(
                "probe answered 404: %s %r (family %s, client %s)",
                *(scope["method"], scope["path"], family, client),
            )
            await _answer(scope, send, 404, [], _NOT_FOUND_BODY)


def _client(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key.lower() == b"user-agent":
            return client_family(value.decode("latin-1"))
    return "other"


async def _answer(
    scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            *headers,
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
