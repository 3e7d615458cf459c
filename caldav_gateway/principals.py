"""Who the real principals are: the users of the htpasswd file, or an explicit list.

The probe policy asks for the current set on every request. The htpasswd file is re-read
only when its identity changes (inode, size, modification time), which costs one
``stat`` per request; a file that cannot be read keeps the last good set (and logs once),
so an editor's half-written save never turns every user into a 404.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from edgeward.logs import get_logger
from edgeward.secrets import read_private_text

log = get_logger("caldav_gateway.principals")

# Hash prefixes Radicale's htpasswd backend recognises; anything else is stored in clear.
_HASHED: Final = re.compile(r"^(?:\$2[abxy]?\$|\$5\$|\$6\$|\$apr1\$|\$argon2)")


class Principals(Protocol):
    def names(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Htpasswd:
    users: frozenset[str]
    plain: frozenset[str]  # users whose password is stored unhashed (tests only)
    # Lines Radicale refuses at start-up and skips on a re-read: "line N: what is wrong".
    # Never the line itself: a line without a colon may well be a pasted password.
    problems: tuple[str, ...] = ()


def parse_htpasswd(text: str) -> Htpasswd:
    """Users of an htpasswd file (``user:hash`` lines; blank lines and ``#`` comments skipped)."""
    users: dict[str, int] = {}
    plain: set[str] = set()
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, hashed = line.partition(":")
        if not colon:
            problems.append(f"line {number}: not a 'user:hash' line (no colon)")
        elif not user:
            problems.append(f"line {number}: the username before ':' is empty")
        elif not hashed:
            problems.append(f"line {number}: user {user!r} has an empty password hash")
        elif user in users:
            problems.append(
                f"line {number}: user {user!r} is listed twice (first on line {users[user]})"
            )
        else:
            users[user] = number
            if not _HASHED.match(hashed):
                plain.add(user)
    return Htpasswd(frozenset(users), frozenset(plain), tuple(problems))


def read_htpasswd(path: Path) -> Htpasswd:
    """Read and parse; ``ValueError`` names the file (never its content)."""
    return parse_htpasswd(read_private_text(path, "htpasswd file"))


class StaticPrincipals:
    def __init__(self, names: list[str] | tuple[str, ...] | frozenset[str]) -> None:
        self._names = frozenset(names)

    def names(self) -> frozenset[str]:
        return self._names


class HtpasswdPrincipals:
    """The users of an htpasswd file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._names: frozenset[str] = frozenset()
        self._broken = False
        self.names()
        if self._stamp is None:
            read_htpasswd(path)  # raises the clear error at start-up

    def names(self) -> frozenset[str]:
        try:
            st = os.stat(self.path)
        except OSError:
            self._report(f"{self.path}: htpasswd file missing; keeping the last known users")
            return self._names
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            try:
                parsed = read_htpasswd(self.path)
            except ValueError as exc:
                self._report(f"{exc}; keeping the last known users")
                return self._names
            for problem in parsed.problems:  # Radicale skips these lines on a re-read too
                log.warning("%s, %s (skipped)", self.path, problem)
            if self._stamp is not None and parsed.users != self._names:
                log.info("htpasswd changed: %d principal(s)", len(parsed.users))
            self._names = parsed.users
            self._stamp = stamp
            self._broken = False
        return self._names

    def _report(self, message: str) -> None:
        if not self._broken:
            log.error(message)
            self._broken = True
