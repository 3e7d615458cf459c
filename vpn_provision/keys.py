"""WireGuard keys and generated passwords, all from a CSPRNG.

X25519 keys come from ``cryptography`` (OpenSSL's RNG), pre-shared keys and passwords
from :mod:`secrets`. WireGuard writes keys as standard base64 of 32 raw bytes.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edgeward.secrets import Secret

KEY_BYTES: Final = 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def wg_private_key() -> Secret:
    key = X25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return Secret(_b64(raw))


def wg_public_key(private: Secret) -> str:
    """The public key of a base64 private key (what ``wg pubkey`` prints)."""
    raw = base64.b64decode(private.reveal(), validate=True)
    if len(raw) != KEY_BYTES:
        raise ValueError("a WireGuard private key is 32 bytes of base64")
    pub = X25519PrivateKey.from_private_bytes(raw).public_key()
    return _b64(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def wg_preshared_key() -> Secret:
    return Secret(_b64(secrets.token_bytes(KEY_BYTES)))


def password() -> Secret:
    """A .p12 password: 24 URL-safe characters (144 bits), easy to paste on a phone."""
    return Secret(secrets.token_urlsafe(18))
