"""Every runnable snippet of the READMEs runs as written.

Convention (for whoever writes a README here):

- A fenced block whose language (the first word of its info string) is ``sh``, ``bash``,
  ``shell`` or ``python`` is **runnable**, and this test runs it.
- Mark a block that cannot run here as **illustrative**: add the word ``illustrative`` to
  its info string (```` ```sh illustrative ````; GitHub still highlights it as ``sh``), or
  put ``<!-- illustrative -->`` on the line before the fence. Use it for production paths
  (``/etc/...``), servers that never return, placeholders such as ``sig=...``, and
  ``make run``/``make test`` themselves (``tests/edgeward/test_run.py`` runs the demo).
- Blocks of other languages (``nginx``, ``toml``, none) are never run.

How a runnable block runs: in a fresh temporary folder that holds ``keys.txt`` (a
signed-URL key file, mode 0600) and ``nginx.secret`` (a secret for nginx's
``secure_link``). Shell blocks run in ``bash -e`` with this environment's console scripts
on ``PATH``. Python blocks run in this environment's interpreter with ``app`` already
bound to a minimal ASGI app (the snippets wrap "your app"). Success is exit status 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from middleware.signed import new_key_line

ROOT = Path(__file__).resolve().parents[1]
READMES = sorted([ROOT / "README.md", *ROOT.glob("*/README.md")])
RUNNABLE_LANGUAGES = {"sh", "bash", "shell", "python"}
MARKER = "<!-- illustrative -->"
_FENCE = re.compile(r"^```(.*)$")

PYTHON_PRELUDE = """\
async def app(scope, receive, send):  # "your app": answers 204 to everything
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int  # of the opening fence
    language: str
    illustrative: bool
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def snippets(path: Path) -> list[Snippet]:
    found: list[Snippet] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        words = m.group(1).split()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marked = "illustrative" in words[1:] or (i > 0 and lines[i - 1].strip() == MARKER)
        code = "\n".join(lines[i + 1 : end]) + "\n"
        found.append(Snippet(path, i + 1, words[0] if words else "", marked, code))
        i = end + 1
    return found


ALL = [s for path in READMES for s in snippets(path)]
RUNNABLE = [s for s in ALL if s.language in RUNNABLE_LANGUAGES and not s.illustrative]


def test_the_convention_is_in_use() -> None:
    assert len(READMES) >= 5
    assert len(RUNNABLE) >= 3
    assert any(s.illustrative for s in ALL)


def test_every_marker_comment_stands_before_a_fence() -> None:
    for path in READMES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == MARKER:
                after = lines[i + 1] if i + 1 < len(lines) else ""
                assert after.startswith("```"), f"{path.relative_to(ROOT)}:{i + 1}"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    keys = tmp_path / "keys.txt"
    keys.write_text(new_key_line("readme") + "\n")
    keys.chmod(0o600)
    secret = tmp_path / "nginx.secret"
    secret.write_text("readme-test-secret\n")
    secret.chmod(0o600)
    return tmp_path


@pytest.mark.parametrize("snippet", RUNNABLE, ids=[s.id for s in RUNNABLE])
def test_runnable_snippet_runs_as_written(snippet: Snippet, workdir: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    if snippet.language == "python":
        argv = [sys.executable, "-c", PYTHON_PRELUDE + snippet.code]
    else:
        argv = ["bash", "-e", "-c", snippet.code]
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{snippet.id}:\n{snippet.code}\n{proc.stdout}\n{proc.stderr}"
