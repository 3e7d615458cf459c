"""Radicale embedded behind the ASGI front, configured only through its public API.

``radicale.config.load()`` (no files: nothing from /etc or ~ leaks in) + ``update(...,
privileged=True)`` + ``radicale.Application``, given the environment its own server would
build (:mod:`caldav_gateway.wsgi_environ`), wrapped by ``a2wsgi.WSGIMiddleware``.
Radicale's ``do_*`` methods are never touched: their signature changed three times in
3.5–3.7. Settings the gateway owns:

- ``[auth] delay = 0``: the anonymous challenge must be immediate; failed logins are
  throttled by :mod:`caldav_gateway.throttle` without holding a thread;
- ``[rights] type = owner_only``: a user reads and writes only ``/<user>/``;
- ``[web] type = none`` unless the web interface was asked for;
- ``htpasswd_encryption = autodetect``: bcrypt, SHA-512/256, and plain (tests only).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import radicale
import radicale.config
from a2wsgi import WSGIMiddleware
from starlette.types import ASGIApp

from caldav_gateway.wsgi_environ import RadicaleServerEnviron


def radicale_config(
    *, htpasswd: Path, collections: Path, web: bool, realm: str
) -> radicale.config.Configuration:
    cfg = radicale.config.load()
    cfg.update(
        {
            "auth": {
                "type": "htpasswd",
                "htpasswd_filename": str(htpasswd),
                "htpasswd_encryption": "autodetect",
                "delay": "0",
                "realm": realm,
            },
            "rights": {"type": "owner_only"},
            "storage": {"filesystem_folder": str(collections)},
            "web": {"type": "internal" if web else "none"},
            "logging": {"mask_passwords": "True"},
        },
        "caldav-gateway",
        privileged=True,
    )
    return cfg


def radicale_level_for(gateway_level: str) -> int:
    """Radicale's own log level for the gateway's ``--log-level``.

    Radicale logs every request at info and start-up notes (and failed logins, which the
    throttle already logs) at warning; below debug the gateway keeps only its errors.
    """
    return logging.DEBUG if gateway_level == "debug" else logging.ERROR


def radicale_asgi(
    *,
    htpasswd: Path,
    collections: Path,
    web: bool = False,
    realm: str = "CalDAV",
    threads: int = 8,
    log_level: int = logging.ERROR,
) -> ASGIApp:
    """Radicale as an ASGI app (a thread pool runs its blocking WSGI calls)."""
    logging.getLogger("radicale").setLevel(log_level)
    collections.mkdir(parents=True, exist_ok=True)
    app = radicale.Application(  # type: ignore[attr-defined]  # re-exported, public
        radicale_config(htpasswd=htpasswd, collections=collections, web=web, realm=realm)
    )
    return cast(ASGIApp, WSGIMiddleware(cast(Any, RadicaleServerEnviron(app)), workers=threads))
