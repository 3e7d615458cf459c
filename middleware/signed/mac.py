"""HMAC-SHA256 with the key schedule computed once per key.

``hmac.digest(key, msg, "sha256")`` pads and hashes the key on every call; a verifier
checks many messages under few keys, so the two padded-key hash states are computed once
and copied per message (RFC 2104: ``H(K^opad || H(K^ipad || m))``). The result is
byte-identical to ``hmac.digest`` (tests check it on random keys and messages) at about a
third of its cost for URL-sized messages.
"""

from __future__ import annotations

import binascii
import hashlib
from typing import Final

_BLOCK: Final = 64  # SHA-256 block size in bytes
_IPAD: Final = bytes.maketrans(bytes(range(256)), bytes(b ^ 0x36 for b in range(256)))
_OPAD: Final = bytes.maketrans(bytes(range(256)), bytes(b ^ 0x5C for b in range(256)))
_B64URL: Final = bytes.maketrans(b"+/", b"-_")
B64URL_LENGTH: Final = 43  # base64url of 32 bytes, without padding


def encode_b64url(mac: bytes) -> bytes:
    """A 32-byte MAC as unpadded base64url; b2a_base64 + translate is the cheapest
    base64url in the standard library."""
    return binascii.b2a_base64(mac, newline=False)[:B64URL_LENGTH].translate(_B64URL)


class HmacSha256:
    """A prepared HMAC-SHA256 key. Holds hash states, never prints key material."""

    # ``inner``/``outer``: SHA-256 states after the padded key; copy() before use.
    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self.inner = hashlib.sha256(key.translate(_IPAD))
        self.outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def b64url(self, message: bytes) -> bytes:
        """The MAC as unpadded base64url: what a signed URL carries."""
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return encode_b64url(outer.digest())

    def __repr__(self) -> str:
        return "HmacSha256(<key hidden>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("prepared keys are not picklable")
