"""deploy/container/Containerfile read statically (no container engine runs here): its
stages with their instructions, and which extras each image target must carry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.support.render import DEPLOY

CONTAINER = DEPLOY / "container"


CONTAINERFILE = CONTAINER / "Containerfile"


TARGETS = {
    "app": "venv-core",
    "dpi-watch": "venv-core",
    "caldav-gateway": "venv-caldav",
    "printer-sync": "venv-printer",
}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [arg for kw, arg in self.instructions if kw == keyword]
        return values[-1] if values else None


def parse_containerfile(text: str) -> dict[str, Stage]:
    """Stages by name, with their instructions (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", text)
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arg.strip(), re.I)
            assert m, line
            current = Stage(m.group(2) or f"stage{len(stages)}", m.group(1))
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, arg.strip()))
    return stages


STAGES = parse_containerfile(CONTAINERFILE.read_text())
