"""The middleware's README snippets that make keys and secrets run as written.

Each Python block that reads a key file or a secret file is executed in a fresh folder
holding the files the README tells the reader to make (with the command it prints), and
an ``app`` (the reader's own ASGI app in the README); then the result serves a request.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from middleware.cli.signed_url import main as signed_url

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "middleware" / "README.md"]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


BLOCKS = [
    pytest.param(block, id=f"{path.relative_to(ROOT)}:{i}")
    for path in READMES
    for i, block in enumerate(python_blocks(path))
    if "read_secret_file(" in block or 'KeyRing.from_file("keys.txt")' in block
]


async def your_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_the_snippets_are_found() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS)
def test_snippet_runs_as_written(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert signed_url(["keygen", "--out", "keys.txt"]) == 0  # as the README says
    Path("nginx.secret").write_text("secret\n")
    namespace: dict[str, object] = {"app": your_app, "__name__": "readme"}
    exec(compile(block, "README", "exec"), namespace)  # noqa: S102 - the README's own code
    app = namespace["app"]
    assert app is not your_app  # the snippet wrapped it
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/",
             "query_string": b"", "headers": [], "client": ("127.0.0.1", 1)}  # fmt: skip
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    assert sent[0]["status"] == 200
