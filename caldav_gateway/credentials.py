"""Is an ``Authorization`` header one Radicale can read? (Malformed ones made it answer 500.)

Radicale takes any header starting with ``Basic``, base64-decodes the rest and splits it at
the first ``:``; a header without a colon (``Basic QUFB``), with bad padding, non-ASCII bytes
or non-UTF-8 credentials raised inside Radicale: a 500 and a full traceback per request, and
the throttle never saw a failure. :func:`basic_problem` names what is wrong so that the
throttle answers 401 itself and counts it as a failed login. Other schemes (``Bearer`` …)
are left to Radicale, which treats them as anonymous (401, counted as usual).
"""

from __future__ import annotations

import base64
import binascii

from starlette.types import Scope


def authorization_values(scope: Scope) -> list[bytes]:
    return [bytes(v) for k, v in scope["headers"] if k.lower() == b"authorization"]


def basic_problem(values: list[bytes]) -> str | None:
    """Why these ``Authorization`` values are malformed, or ``None`` if Radicale can read them."""
    if len(values) > 1:
        return "more than one Authorization header"
    if not values or not values[0].startswith(b"Basic"):
        return None
    token = values[0][len(b"Basic") :].strip()
    if not token.isascii():
        return "Basic credentials with non-ASCII bytes"
    try:
        decoded = base64.b64decode(token)  # as lenient as Radicale's own decoding
    except (binascii.Error, ValueError):
        return "Basic credentials that are not base64"
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "Basic credentials that are not UTF-8"
    if ":" not in text:
        return "Basic credentials without a ':' between user and password"
    return None
