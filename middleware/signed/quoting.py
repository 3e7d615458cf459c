"""Request-targets in origin form: check them, build them from unencoded parts.

Signing covers the exact bytes of the target, so signer and verifier never normalise;
the price is that the caller must hand the signer the target exactly as the browser
will send it: ASCII, percent-encoded, origin form (RFC 9112 §3.2.1: ``absolute-path
[ "?" query ]``). These helpers build such a target from an unencoded path (``/a b/é``)
and query parameters, and say precisely what is wrong with a target that is not one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote

# RFC 3986: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
_PCHAR: Final = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_ORIGIN_FORM: Final = re.compile(rf"/(?:{_PCHAR}|/)*(?:\?(?:{_PCHAR}|[/?])*)?")
_ALLOWED: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%"
)
_HEX: Final = frozenset("0123456789abcdefABCDEF")

# Characters left as they are when encoding: sub-delims and ":" "@" in paths, but not the
# query's own separators "&", "=", "+" (a "+" reads as a space to form decoders) or "#".
PATH_SAFE: Final = "/!$&'()*+,;=:@"
QUERY_SAFE: Final = "/!$'()*,;:@?"


class TargetError(ValueError):
    """A request-target that cannot be signed, with the position and the reason."""


def check_target(target: str) -> None:
    """Raise :class:`TargetError` unless ``target`` is an ASCII origin-form target."""
    if _ORIGIN_FORM.fullmatch(target):
        return
    if not target.startswith("/"):
        raise TargetError(
            "target must start with '/' (origin form: path plus optional query), "
            f"got {target[:40]!r}"
        )
    for i, ch in enumerate(target):
        if not ch.isascii():
            raise TargetError(
                f"target is not ASCII: {ch!r} at offset {i}; percent-encode it "
                "(quote_path / build_target, or 'signed-url sign --quote')"
            )
        if ch == "#":
            raise TargetError(
                f"target holds a fragment ('#' at offset {i}); browsers never send it"
            )
        if ch not in _ALLOWED:
            raise TargetError(f"target holds {ch!r} at offset {i}; percent-encode it")
        if ch == "%" and not (len(target) >= i + 3 and set(target[i + 1 : i + 3]) <= _HEX):
            raise TargetError(f"bad percent escape at offset {i}: {target[i : i + 3]!r}")
    raise TargetError(f"target is not in origin form: {target[:80]!r}")  # pragma: no cover


def is_origin_form(target: str) -> bool:
    return _ORIGIN_FORM.fullmatch(target) is not None


def quote_path(path: str) -> str:
    """Percent-encode an unencoded path (UTF-8), keeping ``/`` and RFC 3986 sub-delims.

    ``quote_path("/media/a b/été.png") == "/media/a%20b/%C3%A9t%C3%A9.png"``. A literal
    ``%`` becomes ``%25``: the input is taken as text, never as already encoded.
    """
    if not path.startswith("/"):
        raise TargetError(f"path must start with '/', got {path[:40]!r}")
    return quote(path, safe=PATH_SAFE)


def quote_query(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """``name=value`` pairs joined by ``&``, each side percent-encoded (space → ``%20``)."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{quote(k, safe=QUERY_SAFE)}={quote(v, safe=QUERY_SAFE)}" for k, v in items)


def build_target(
    path: str, query: Mapping[str, str] | Iterable[tuple[str, str]] | None = None
) -> str:
    """An origin-form target from an unencoded path and optional query parameters."""
    target = quote_path(path)
    encoded = quote_query(query) if query is not None else ""
    return f"{target}?{encoded}" if encoded else target


def query_names(query: str) -> list[str]:
    """The parameter names of a query (the part before each ``=``), in order."""
    return [part.split("=", 1)[0] for part in query.split("&")] if query else []


def normalize_path(path: str, *, strict: bool = False) -> str:
    """``path`` with slashes merged and ``.``/``..`` segments resolved, as nginx (and any
    proxy or app that normalises) will see it. A ``..`` above ``/`` stays at ``/``, or
    with ``strict`` raises :class:`TargetError` (nginx answers such a request 400)."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
            elif strict:
                raise TargetError(f"path climbs above '/': {path[:80]!r}")
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = path.endswith(("/", "/.", "/..")) and bool(segments)
    return "/" + "/".join(segments) + ("/" if trailing else "")
