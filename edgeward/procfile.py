"""``deploy/Procfile``: the services ``make run`` starts, one ``NAME: COMMAND`` per line.

The format is honcho's (and foreman's): blank lines and ``#`` comments are skipped.
Anything else that is not ``NAME: COMMAND`` is an error naming the line, so a typo does
not silently drop a service.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeward.shipped import deploy_file

_LINE: Final = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


class ProcfileError(Exception):
    """A Procfile line that is not ``NAME: COMMAND`` (or a name used twice)."""


@dataclass(frozen=True)
class Service:
    name: str
    command: str

    @property
    def executable(self) -> str:
        """The program the command starts (its first word)."""
        return shlex.split(self.command)[0]


def read_procfile(path: Path | None = None) -> list[Service]:
    """The services of ``path`` (default: the Procfile ``make run`` reads)."""
    if path is None:
        path = deploy_file("Procfile")
    services: list[Service] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ProcfileError(f"{path}:{number}: expected 'NAME: COMMAND', got {line!r}")
        if any(s.name == m.group(1) for s in services):
            raise ProcfileError(f"{path}:{number}: service {m.group(1)!r} is listed twice")
        services.append(Service(m.group(1), m.group(2)))
    if not services:
        raise ProcfileError(f"{path}: no service listed")
    return services
