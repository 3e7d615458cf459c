"""``signed-url keygen``: a fresh key line, printed or appended to a private file."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from middleware.signed.keyring import KeyRing
from tests.support.signed_url import run


def test_keygen_prints_a_line_of_this_month() -> None:
    code, out, _ = run("keygen")
    kid = datetime.now(UTC).strftime("%Y-%m")
    assert code == 0 and re.fullmatch(rf"{kid} \S{{43}}\n", out), out
    assert KeyRing.parse(out).kids == (kid,)
    assert run("keygen")[1] != out  # a fresh secret each time


@pytest.mark.parametrize(
    ("kid", "ok"),
    [("k1", True), ("2026-12", True), ("a.b_c-d", True), ("x" * 32, True),
     ("x" * 33, False), ("", False), ("no spaces", False), ("é", False)],
)  # fmt: skip
def test_keygen_kid(kid: str, ok: bool) -> None:
    code, out, err = run("keygen", "--kid", kid)
    if ok:
        assert code == 0 and out.startswith(f"{kid} ")
    else:
        assert code == 2 and err.startswith("error: --kid:") and out == ""


def test_keygen_out_writes_a_private_file_and_appends(tmp_path: Path) -> None:
    out = tmp_path / "keys.txt"
    os.umask(old := os.umask(0o022))  # whatever the umask, the file is 0600
    assert run("keygen", "--kid", "2026-11", "--out", str(out))[0] == 0
    assert run("keygen", "--kid", "2026-12", "--out", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and old is not None
    assert KeyRing.from_file(out).kids == ("2026-11", "2026-12")
    _code, printed, _ = run("keygen", "--out", str(out))
    assert printed == ""  # the secret goes to the file only


def test_keygen_out_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    out = tmp_path / "keys.txt"
    out.write_text("")
    out.chmod(0o644)
    code, _, err = run("keygen", "--out", str(out))
    assert code == 2 and "chmod 600" in err and out.read_text() == ""


def test_keygen_out_adds_the_missing_newline(tmp_path: Path) -> None:
    out = tmp_path / "keys.txt"
    out.write_text("k0 c2VjcmV0LWtleS1mb3ItdGVzdC12ZWN0b3JzLTAwMDE")  # no final newline
    out.chmod(0o600)
    assert run("keygen", "--kid", "k1", "--out", str(out))[0] == 0
    assert KeyRing.from_file(out).kids == ("k0", "k1")


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("/dev/null", "not a regular file"),
        ("{tmp}", "Is a directory"),
        ("{tmp}/no/such", "No such"),
    ],
)
def test_keygen_out_refuses_what_is_not_a_regular_file(tmp_path: Path, out: str, says: str) -> None:
    out = out.replace("{tmp}", str(tmp_path))
    code, printed, err = run("keygen", "--out", out)
    assert code == 2 and err.startswith(f"error: --out {out}: {says}")
    assert printed == ""  # the secret is not printed instead
