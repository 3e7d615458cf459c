"""The Procfile format: ``NAME: COMMAND`` lines, comments, errors naming the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeward.procfile import ProcfileError, read_procfile


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: run x\n\n# c: commented out\nb: run y --z 'q r'\n", [("a", "run"), ("b", "run")]),
        ("  a:   spaced   \n", [("a", "spaced")]),
        ("a run x\n", "2: expected 'NAME: COMMAND'"),
        ("a: x\na: y\n", "3: service 'a' is listed twice"),
        ("# nothing\n", "no service listed"),
    ],
)
def test_read_procfile(tmp_path: Path, text: str, expected: list[tuple[str, str]] | str) -> None:
    path = tmp_path / "Procfile"
    path.write_text(("# header\n" if isinstance(expected, str) else "") + text)
    if isinstance(expected, str):
        with pytest.raises(ProcfileError, match=re.escape(expected)):
            read_procfile(path)
    else:
        assert [(s.name, s.executable) for s in read_procfile(path)] == expected
