"""What a signed-URL check concludes, and what the client is told.

One vocabulary for both schemes (native and nginx), the metric label and the CLI:

- ``valid`` — the signature matches and the link has not expired;
- ``missing`` — a protected URL without any signing parameter;
- ``malformed`` — signing parameters present but not in the expected shape;
- ``bad_signature`` — well formed, but the signature does not match: a forgery or a
  link edited by hand;
- ``unknown_key`` — signed with a key id this server does not have (rotated out?);
- ``expired`` — the signature matches but the expiry time has passed;
- ``corrupted`` — any of the rejections above (except ``expired``) where the received
  target also carries corruption markers (``middleware.corruption.classify``): damage in
  transit, a different incident from forgery.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

from middleware.corruption.classify import Finding

Result = Literal[
    "valid", "missing", "malformed", "bad_signature", "unknown_key", "expired", "corrupted"
]
RESULTS: Final[tuple[Result, ...]] = (
    "valid",
    "missing",
    "malformed",
    "bad_signature",
    "unknown_key",
    "expired",
    "corrupted",
)

# 410 tells a browser (and a crawler) that this link will never work again; 400 says the
# request itself arrived damaged (a retry may pass), unlike a forgery's 403.
STATUS: Final[dict[Result, int]] = {
    "valid": 200,
    "missing": 403,
    "malformed": 403,
    "bad_signature": 403,
    "unknown_key": 403,
    "expired": 410,
    "corrupted": 400,
}

BODY: Final[dict[int, str]] = {
    403: "Forbidden: this URL is not validly signed.",
    410: "Gone: this link has expired.",
    400: "Bad request: this URL was damaged on its way here.",
}

REASON: Final[dict[Result, str]] = {
    "valid": "signature valid",
    "missing": "no signing parameters",
    "malformed": "signing parameters are malformed",
    "bad_signature": "signature does not match",
    "unknown_key": "signed with an unknown key id",
    "expired": "link has expired",
    "corrupted": "signature does not match and the URL carries corruption markers",
}


class Verdict(NamedTuple):
    """The result of one check. ``target`` is the request-target without the signing
    parameters (what the app should see); ``kid``/``exp`` are set when they were read.

    A named tuple: the verifier's valid path builds it with ``tuple.__new__`` (one C call;
    a class's ``__init__`` storing five attributes cost about 7 % of the whole check)."""

    result: Result
    target: bytes = b""
    kid: str | None = None
    exp: int | None = None
    finding: Finding | None = None

    @property
    def ok(self) -> bool:
        return self.result == "valid"

    @property
    def status(self) -> int:
        return STATUS[self.result]

    @property
    def reason(self) -> str:
        return REASON[self.result]

    def __repr__(self) -> str:
        return f"Verdict({self.result!r}, kid={self.kid!r}, exp={self.exp!r})"


class SignedURL(NamedTuple):
    """What the app finds in ``scope["state"]["signed_url"]`` after a valid check.

    A named tuple: immutable, and a quarter of a frozen dataclass's cost to build."""

    scheme: Literal["native", "nginx"]
    kid: str | None  # None for the nginx scheme (one shared secret, no key ids)
    exp: int | None  # unix seconds; None when the link never expires
