"""Fixtures of the ``signed-url`` tests: real key and secret files, and the root logger
restored after each in-process run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.signed_url import VECTOR_SECRET


@pytest.fixture(autouse=True)
def _restore(restore_root_logger: None) -> None:
    """Every test here runs signed-url's main() in-process."""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"k1 {VECTOR_SECRET}\n")
    keys.chmod(0o600)
    secret = tmp_path / "nginx.secret"
    secret.write_text("secret\n")
    secret.chmod(0o600)
    unreadable = tmp_path / "unreadable"
    unreadable.write_text("x\n")
    unreadable.chmod(0)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00k1 \x80\n")
    binary.chmod(0o600)
    return {"keys": keys, "secret": secret, "dir": tmp_path, "unreadable": unreadable,
            "binary": binary}  # fmt: skip
