"""The path Radicale acts on, and the probe family a path belongs to.

The policy must decide on exactly the path Radicale will use, or a request such as
``/principals/../alice/`` or ``/%61lice/`` could be judged on one path and served on
another. uvicorn percent-decodes the request target once, as UTF-8, into
``scope["path"]``; Radicale gets that same text as ``PATH_INFO``, the way its own server
builds it (:mod:`caldav_gateway.wsgi_environ` undoes a2wsgi's latin-1 spelling), so
non-ASCII usernames and hrefs mean the same on both sides. Radicale then applies
:func:`radicale.pathutils.sanitize_path` (dot segments, repeated slashes, empty and
``.``/``..`` components dropped) and never decodes again. We call the same function on
the same string, so both sides see one path.
"""

from __future__ import annotations

from typing import Final

from radicale.pathutils import sanitize_path

WELL_KNOWN_REDIRECTS: Final = frozenset({"/.well-known/caldav", "/.well-known/carddav"})

# First path segment → family, for the probes seen from Apple and other clients (Apple
# Calendar Server, Google's legacy and v2 layouts, Baïkal, Nextcloud, sabre/dav). Used to
# label metrics in every mode and as the deny list in ``denylist`` mode.
PROBE_FAMILIES: Final = {
    "principals": "principals",
    "dav": "dav",
    "caldav": "caldav",
    "carddav": "carddav",
    "calendar": "calendar",
    "calendars": "calendar",
    "dav.php": "dav.php",
    "remote.php": "remote.php",
    ".well-known": "well-known",
    "favicon.ico": "favicon",
    "apple-touch-icon.png": "favicon",
    "apple-touch-icon-precomposed.png": "favicon",
    "robots.txt": "robots",
    ".web": "web",
}
OTHER_FAMILY: Final = "other"


def normalise(path: str) -> str:
    """The sanitised absolute path Radicale will act on for ``scope["path"]``."""
    return sanitize_path(path)


def first_segment(normalised: str) -> str:
    """``/alice/cal/`` → ``alice``; ``/`` → ``""``."""
    return normalised.lstrip("/").split("/", 1)[0]


def is_well_known_redirect(normalised: str) -> bool:
    return normalised.rstrip("/") in WELL_KNOWN_REDIRECTS


def family_of(normalised: str) -> str:
    """The bounded metrics label of a probe path (``other`` for unknown users and the rest)."""
    return PROBE_FAMILIES.get(first_segment(normalised).lower(), OTHER_FAMILY)


def colliding_names(names: set[str] | frozenset[str]) -> list[str]:
    """Usernames equal (case-insensitively) to a probe family's first segment."""
    families = {k.lower() for k in PROBE_FAMILIES}
    return sorted(n for n in names if n.lower() in families)
