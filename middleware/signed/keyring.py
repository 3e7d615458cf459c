"""Signing keys: the key file, key ids, rotation.

The key file holds one ``<kid> <secret>`` per line. ``kid`` is ``[A-Za-z0-9._-]{1,32}``,
``secret`` is base64url (padding optional) of at least 16 bytes; ``#`` starts a comment.
The **first** key signs; every listed key verifies. Rotation is therefore: put a new line
on top (new links use it), keep the old line until the links it signed have expired,
then delete it.

Errors name the file and the line number, never the secret. A key file readable by
group or others is loaded with a warning: it is a credential.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from edgeward.logs import get_logger
from middleware.signed.mac import HmacSha256

KID_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,32}")
MIN_SECRET_BYTES: Final = 16
NEW_SECRET_BYTES: Final = 32
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+={0,2}")

log = get_logger("middleware.signed")


class KeyFileError(ValueError):
    """A key file or key that cannot be used; the message never holds key material."""


class Key:
    """One key id and its prepared HMAC key (``inner``/``outer``: the key's two hash
    states, as attributes of the key itself for the verifier's hot path)."""

    __slots__ = ("inner", "kid", "mac", "outer")

    def __init__(self, kid: str, secret: bytes) -> None:
        if not KID_PATTERN.fullmatch(kid):
            raise KeyFileError(f"key id {kid!r}: expected 1-32 characters of A-Z a-z 0-9 . _ -")
        if len(secret) < MIN_SECRET_BYTES:
            raise KeyFileError(
                f"key {kid!r}: secret is {len(secret)} bytes, at least {MIN_SECRET_BYTES} needed"
            )
        self.kid = kid
        self.mac = HmacSha256(secret)
        self.inner = self.mac.inner
        self.outer = self.mac.outer

    def __repr__(self) -> str:
        return f"Key({self.kid!r}, <secret hidden>)"


class KeyRing:
    """The keys a server knows; the first one signs."""

    __slots__ = ("_by_kid", "_keys", "get_bytes")

    def __init__(self, keys: Iterable[Key]) -> None:
        self._keys = tuple(keys)
        if not self._keys:
            raise KeyFileError("a key ring needs at least one key")
        self._by_kid: dict[str, Key] = {}
        for key in self._keys:
            if key.kid in self._by_kid:
                raise KeyFileError(f"key id {key.kid!r} is listed twice")
            self._by_kid[key.kid] = key
        # The verifier looks keys up by the bytes it received, without decoding them; a
        # bound dict.get is the cheapest call on its hot path.
        by_kid_bytes = {k.encode("ascii"): v for k, v in self._by_kid.items()}
        self.get_bytes: Callable[[bytes], Key | None] = by_kid_bytes.get

    @classmethod
    def from_secrets(cls, pairs: Iterable[tuple[str, bytes]]) -> KeyRing:
        return cls(Key(kid, secret) for kid, secret in pairs)

    @classmethod
    def parse(cls, text: str, source: str = "<keys>") -> KeyRing:
        keys: list[Key] = []
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            where = f"{source}: line {number}"
            if len(fields) != 2:
                raise KeyFileError(f"{where}: expected '<kid> <secret>' ({len(fields)} fields)")
            kid, encoded = fields
            try:
                keys.append(Key(kid, decode_secret(encoded)))
            except KeyFileError as exc:
                raise KeyFileError(f"{where}: {exc}") from None
        if not keys:
            raise KeyFileError(f"{source}: no keys (expected lines '<kid> <secret>')")
        try:
            return cls(keys)
        except KeyFileError as exc:
            raise KeyFileError(f"{source}: {exc}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
            mode = p.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(
                f"{p}: key file not found (create one with 'signed-url keygen')"
            ) from None
        except PermissionError:
            raise KeyFileError(f"{p}: key file not readable (permission denied)") from None
        except UnicodeDecodeError:
            raise KeyFileError(f"{p}: key file is not UTF-8 text") from None
        except OSError as exc:  # a directory, a path too long, an I/O error...
            raise KeyFileError(f"{p}: cannot read key file ({exc.strerror or exc})") from None
        if mode & 0o077:
            log.warning("key file %s is readable by group or others; chmod 600 it", p)
        return cls.parse(text, source=str(p))

    @property
    def signing(self) -> Key:
        return self._keys[0]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(k.kid for k in self._keys)

    def get(self, kid: str) -> Key | None:
        return self._by_kid.get(kid)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self.kids)!r})"


def decode_secret(encoded: str) -> bytes:
    """base64url with optional padding → bytes; the error never repeats the input."""
    if not _B64URL.fullmatch(encoded):
        raise KeyFileError("secret is not base64url (A-Z a-z 0-9 - _)")
    try:
        bare = encoded.rstrip("=")
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        raise KeyFileError("secret is not valid base64url (wrong length)") from None


def new_key_line(kid: str) -> str:
    """A fresh ``<kid> <secret>`` line: 32 random bytes from :mod:`secrets`."""
    if not KID_PATTERN.fullmatch(kid):
        raise KeyFileError(f"key id {kid!r}: expected 1-32 characters of A-Z a-z 0-9 . _ -")
    secret = base64.urlsafe_b64encode(secrets.token_bytes(NEW_SECRET_BYTES)).rstrip(b"=")
    return f"{kid} {secret.decode('ascii')}"
