"""Signed URLs that the app and nginx both verify.

- ``native.py`` — HMAC-SHA256 over the exact request-target, key ids, expiry;
- ``nginx_scheme.py`` — byte-compatible with nginx's ``secure_link_md5``;
- ``keyring.py`` — the key file (``<kid> <secret>`` lines; the first signs, all verify);
- ``quoting.py`` — build and check origin-form targets;
- ``middleware.py`` — :class:`SignedURLMiddleware`;
- ``outcome.py`` — the results (valid, missing, malformed, ...), statuses, bodies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from middleware.signed.keyring import Key, KeyFileError, KeyRing, new_key_line
from middleware.signed.native import sign_url, verify_url
from middleware.signed.nginx_scheme import DEFAULT_TEMPLATE, NginxScheme
from middleware.signed.outcome import RESULTS, Result, SignedURL, Verdict
from middleware.signed.quoting import TargetError, build_target, quote_path, quote_query

if TYPE_CHECKING:
    from middleware.signed.middleware import SignedURLMiddleware


def __getattr__(name: str) -> object:
    # The ASGI middleware brings starlette and prometheus_client (a fifth of dpi-report's
    # start-up), which the signing and checking functions never need: loaded on first use.
    if name == "SignedURLMiddleware":
        from middleware.signed.middleware import SignedURLMiddleware

        return SignedURLMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TEMPLATE",
    "RESULTS",
    "Key",
    "KeyFileError",
    "KeyRing",
    "NginxScheme",
    "Result",
    "SignedURL",
    "SignedURLMiddleware",
    "TargetError",
    "Verdict",
    "build_target",
    "new_key_line",
    "quote_path",
    "quote_query",
    "sign_url",
    "verify_url",
]
