"""One-time profile links served by the gateway itself, under ``/.profile/``.

The gateway's promise is "404 for every path that is not Radicale's", because any other
answer to one of Apple's probes makes devices misbehave. A link handed to a person is
``/.profile/<nonce>?exp=..&kid=..&sig=..``; no probe carries a ``sig`` parameter, so:

- a request under the prefix WITH ``sig`` goes to :func:`edgeward.onetime.onetime_app`
  (valid → 200 once then 404, expired → 410, forged/changed → 403, audited);
- every other request, the bare prefix included, goes on to the probe policy (404).

The state lives beside Radicale's ``collection-root`` in the collections folder
(``profile-links/``): ``links.keys`` (the signing key ring, 0600), ``links.db`` (nonces,
claims, audit) and ``profiles/<subject>.mobileconfig`` (the profile; it never holds a
password: ``profile`` refuses ``--include-password`` with ``--link``). Nothing is served
until ``caldav-gateway profile --link`` created it.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from caldav_gateway import metrics
from edgeward.appleprofile import CONTENT_TYPE
from edgeward.files import atomic_write
from edgeward.onetime import Bundle, Download, NonceStore, make_link, onetime_app
from middleware.signed import KeyRing
from middleware.signed.keyring import new_key_line

PREFIX: Final = "/.profile/"
_SUBJECT: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")


def state_dir(collections: Path) -> Path:
    return collections / "profile-links"


def _keys(folder: Path) -> Path:
    return folder / "links.keys"


def _profiles(folder: Path) -> Path:
    return folder / "profiles"


def ensure_state(collections: Path) -> Path:
    """Create the link state (key ring once, 0600) and return its folder."""
    folder = state_dir(collections)
    _profiles(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    if not _keys(folder).exists():
        atomic_write(_keys(folder), (new_key_line("k1") + "\n").encode(), mode=0o600)
    return folder


def issue(collections: Path, user: str, profile: bytes, *, base_url: str, expires_in: int) -> str:
    """Keep ``profile`` for one download and return its signed single-use link."""
    folder = ensure_state(collections)
    subject = secrets.token_urlsafe(12)
    atomic_write(_profiles(folder) / f"{subject}.mobileconfig", profile, mode=0o600)
    (_profiles(folder) / f"{subject}.user").write_text(user, encoding="utf-8")
    return make_link(
        NonceStore(folder / "links.db"),
        KeyRing.from_file(_keys(folder)),
        subject,
        base_url=base_url,
        prefix=PREFIX,
        expires_in=expires_in,
    )


def _bundle(folder: Path, subject: str) -> Bundle | None:
    if not _SUBJECT.fullmatch(subject):
        return None
    path = _profiles(folder) / f"{subject}.mobileconfig"
    try:
        data = path.read_bytes()
        user = (_profiles(folder) / f"{subject}.user").read_text(encoding="utf-8")
    except OSError:
        return None
    return Bundle(
        title=f"Calendar for {user}",
        downloads=(
            Download("calendar.mobileconfig", data, CONTENT_TYPE, "Install the calendar profile"),
        ),
        notes=("On an iPhone or iPad: Settings, then 'Profile Downloaded', then Install.",),
    )


class ProfileLinks:
    """Routes signed requests under :data:`PREFIX` to the one-time app (see module doc)."""

    def __init__(self, app: ASGIApp, collections: Path) -> None:
        self.app = app
        self.folder = state_dir(collections)
        self._links: ASGIApp | None = None

    def _app(self) -> ASGIApp | None:
        # Built on first use: `profile --link` may create the state after the gateway started.
        if self._links is None and _keys(self.folder).exists():
            folder = self.folder
            self._links = onetime_app(
                NonceStore(folder / "links.db"),
                KeyRing.from_file(_keys(folder)),
                lambda subject: _bundle(folder, subject),
                metrics.PROFILE_LINKS,
                prefix=PREFIX,
            )
        return self._links

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(PREFIX)
            and "sig" in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ):
            links = self._app()
            if links is not None:
                await links(scope, receive, send)
                return
        await self.app(scope, receive, send)
