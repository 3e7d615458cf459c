"""Recover the original of a corrupted signed URL: proof of transport damage, not forgery.

The seed's middlebox overwrote exactly two consecutive bytes with ``0x80 0x01`` or
``0x80 0x04``. A signed URL carries an HMAC over its exact bytes, so among all the ways
of putting two URL characters back into that window, at most one (with overwhelming
probability) makes the signature verify: finding it proves the URL was signed by us and
damaged on the way, while a forgery has no such repair.

Candidates are the characters a request-target may hold unencoded (RFC 3986 unreserved,
sub-delims, ``:@/?%``: 82 characters), so a window costs at most 82² = 6 724 HMACs (a few
milliseconds). The window is the classifier's offset for the ``dpi_signature`` kind; for
other kinds the two windows that include the offending byte are tried. ``max_tries``
bounds the work per URL whatever the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from middleware.corruption.classify import classify

if TYPE_CHECKING:  # (imported by a run with --keys only: dpi-report's parser needs MAX_TRIES)
    from middleware.signed import KeyRing

URL_CHARS: Final = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%"
)
MAX_TRIES: Final = 2 * len(URL_CHARS) ** 2


@dataclass(frozen=True, slots=True)
class Recovery:
    corrupted: bytes
    original: bytes | None  # None: no candidate verified within the bound
    tries: int
    kid: str | None = None


def is_signed(target: bytes) -> bool:
    """Whether ``target`` was probably a native signed URL.

    ``kid=<kid>&sig=`` ends every signed URL; a two-byte window can damage ``kid=`` or
    ``sig=`` but never both, so either one left is enough.
    """
    return b"kid=" in target or b"sig=" in target


def _windows(target: bytes) -> list[int]:
    finding = classify(target)
    if finding is None or finding.decoded:
        return []  # nothing raw to repair (percent-decoded findings have no 2-byte window)
    i = finding.offset
    if finding.kind == "dpi_signature":
        return [i]
    return [w for w in (i, i - 1) if w >= 0 and w + 2 <= len(target)]


def recover(target: bytes, keyring: KeyRing, *, max_tries: int = MAX_TRIES) -> Recovery:
    """Try every pair of URL characters in the corrupted window; keep the one that verifies.

    Expired links count as recovered: the signature matched, which is the proof.
    """
    from middleware.signed import verify_url

    tries = 0
    for w in _windows(target):
        head, tail = target[:w], target[w + 2 :]
        for a in URL_CHARS:
            for b in URL_CHARS:
                if tries >= max_tries:
                    return Recovery(target, None, tries)
                tries += 1
                candidate = head + bytes((a, b)) + tail
                verdict = verify_url(candidate, keyring, now=0)
                if verdict.result == "valid" or verdict.result == "expired":
                    return Recovery(target, candidate, tries, verdict.kid)
    return Recovery(target, None, tries)
