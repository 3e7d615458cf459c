"""Real principals from the htpasswd file, re-read when it changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from passlib.hash import sha512_crypt

from caldav_gateway.principals import HtpasswdPrincipals, parse_htpasswd, read_htpasswd
from tests.support.gateway import Gateway, write_htpasswd

BCRYPT = "$2b$04$abcdefghijklmnopqrstuuJ2kCnFbwXyH0F3W5Qm7uQKfBrNcYEy2"


@pytest.mark.parametrize(
    ("text", "users", "plain"),
    [
        (f"alice:{BCRYPT}\n", {"alice"}, set()),
        ("alice:$6$salt$hash\nbob:$5$s$h\ncarol:$apr1$x$y\n", {"alice", "bob", "carol"}, set()),
        ("alice:secret\n", {"alice"}, {"alice"}),
        ("# comment\n\n  \nalice:$2y$10$x\n", {"alice"}, set()),
        ("no-colon-line\n:nouser\nbob:$argon2id$v=19$x\n", {"bob"}, set()),
        ("alice:pw:with:colons\r\n", {"alice"}, {"alice"}),
        ("", set(), set()),
    ],
)
def test_parse_htpasswd(text: str, users: set[str], plain: set[str]) -> None:
    parsed = parse_htpasswd(text)
    assert parsed.users == users
    assert parsed.plain == plain


def test_reread_on_change_and_last_good_set_kept(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"alice:{BCRYPT}\n")
    principals = HtpasswdPrincipals(path)
    assert principals.names() == {"alice"}
    path.write_text(f"alice:{BCRYPT}\nbob:{BCRYPT}\n")
    assert principals.names() == {"alice", "bob"}
    path.unlink()
    assert principals.names() == {"alice", "bob"}  # a missing file keeps the last users
    path.write_bytes(b"\xff\xfe not utf-8")
    assert principals.names() == {"alice", "bob"}
    path.write_text(f"carol:{BCRYPT}\n")
    assert principals.names() == {"carol"}


def test_missing_file_at_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="users: htpasswd file not found"):
        HtpasswdPrincipals(tmp_path / "users")


@given(st.text(max_size=300))
def test_parse_htpasswd_accepts_any_text(text: str) -> None:
    parsed = parse_htpasswd(text)
    assert parsed.plain <= parsed.users
    lines = [line.strip() for line in text.splitlines()]
    for user in parsed.users:
        assert ":" not in user and user
        assert any(line.startswith(user + ":") for line in lines)


@pytest.mark.slow
def test_new_user_is_served_without_restart(gateway: Gateway) -> None:
    ctx = gateway.ssl_context()
    assert httpx.request("PROPFIND", gateway.url + "/carol/", verify=ctx).status_code == 404
    write_htpasswd(gateway.htpasswd, {**gateway.users, "carol": "carol-pw-123"})
    # a SHA-512 crypt entry (htpasswd -5) works as well as bcrypt
    dave = sha512_crypt.using(rounds=5000).hash("dave-pw-456")
    with gateway.htpasswd.open("a") as f:
        f.write(f"dave:{dave}\n")
    os.utime(gateway.htpasswd)
    deadline = time.monotonic() + 60  # generous: a loaded machine is slow
    while True:
        r = httpx.request("PROPFIND", gateway.url + "/carol/", verify=ctx)
        if r.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 401  # now Radicale's: a real principal
    r = httpx.request(
        "PROPFIND",
        gateway.url + "/carol/",
        verify=ctx,
        auth=("carol", "carol-pw-123"),
        headers={"Depth": "0"},
    )
    assert r.status_code == 207
    r = httpx.request(
        "PROPFIND",
        gateway.url + "/dave/",
        verify=ctx,
        auth=("dave", "dave-pw-456"),
        headers={"Depth": "0"},
    )
    assert r.status_code == 207


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"alice:hunter2-plain\xff\n", "not UTF-8 text"),
        (None, "htpasswd file not found"),
    ],
)
def test_read_errors_name_the_file_never_the_content(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "users"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        read_htpasswd(path)
    assert str(path) in str(err.value)
    assert "hunter2" not in str(err.value) and "hunter2" not in repr(err.value)
