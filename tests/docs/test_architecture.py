"""``docs/architecture.md`` names only paths that exist.

Checked: every backticked path in the map's "it lives in" column (a bare file name there,
``mac.py`` after ``middleware/signed/native.py``, is beside the path before it: in the same
folder as that file, or as that folder),
and every backticked repository path (one with a ``/``) anywhere else in the text.
Not checked: placeholders (``<tool>/demo.py``), URL paths (``/metrics``) and what
``make run`` generates under ``var/``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
_TOKEN = re.compile(r"`([^`]+)`")


def _is_path(token: str) -> bool:
    if token.startswith(("/", "var/", ".")) or any(c in token for c in "<> "):
        return False
    return "/" in token or re.search(r"\.(py|md|toml|conf|in)$", token) is not None


def named_paths(text: str) -> set[str]:
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # diagrams, not paths
    paths: set[str] = set()
    for line in text.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) == 2:  # a row of the map: check its 2nd cell
            folder = ""
            for token in filter(_is_path, _TOKEN.findall(cells[1])):
                if "/" in token:
                    paths.add(token)
                    folder = token.rstrip("/").rsplit("/", 1)[0] + "/"
                else:
                    paths.add(folder + token)
        else:
            paths.update(t for t in _TOKEN.findall(line) if _is_path(t) and "/" in t)
    return paths


def test_named_paths_reads_rows_and_prose() -> None:
    text = (
        "| what | `x/a.py`, `b.py` (`func`) |\n"
        "| what | `x/sub/`, `c.py` |\n"
        "| `gateway.toml`, `/metrics` | `deploy/` |\n"
        "Prose names `edgeward/run.py`, `<pkg>/demo.py`, `var/nginx/` and `run.py`.\n"
        "```\nnot/a/path.py\n```\n"
    )
    assert named_paths(text) == {
        "x/a.py",
        "x/b.py",
        "x/sub/",
        "x/c.py",
        "deploy/",
        "edgeward/run.py",
    }


def test_every_path_the_map_names_exists() -> None:
    paths = named_paths(DOC.read_text(encoding="utf-8"))
    assert len(paths) > 80
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []
