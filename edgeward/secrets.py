"""A secret value that cannot leak through ``str``, ``repr``, f-strings or logging.

Passwords, signing keys and tokens are wrapped as soon as they are read and unwrapped
with :meth:`Secret.reveal` only at the single place that needs the real value (the
HMAC, the login form). Tests grep logs, metrics and exceptions for the revealed value.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Final

_MASK: Final = "********"


class Secret:
    """An opaque string. ``str(s)`` and ``repr(s)`` show a mask, never the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(Secret)  # equal secrets must hash alike; the value must not leak via hash

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values are not picklable")


def read_private_text(path: Path, what: str) -> str:
    """A UTF-8 file's text; ``ValueError`` names the file and ``what`` it is (a "secret
    file", an "htpasswd file"), never its content."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: {what} not found") from None
    except PermissionError:
        raise ValueError(f"{path}: {what} not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: {what} is not UTF-8 text") from None
    except OSError as exc:  # a directory, a FIFO gone wrong, an I/O error
        raise ValueError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def read_secret_file(path: str | os.PathLike[str]) -> Secret:
    """Read a secret from a file: the first line, without its line ending.

    The error names the file but never its content.
    """
    p = Path(path)
    text = read_private_text(p, "secret file")
    value = text.splitlines()[0] if text else ""
    if not value:
        raise ValueError(f"{p}: secret file is empty")
    return Secret(value)


def read_secret_env(name: str) -> Secret:
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"environment variable {name} is not set or empty")
    return Secret(value)
