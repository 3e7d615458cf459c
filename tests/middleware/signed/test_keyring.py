"""The key file: format, rotation order, errors that name the line but never the secret."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest

from middleware.signed.keyring import KeyFileError, KeyRing, decode_secret, new_key_line
from tests.support.signed_url import OTHER_SECRET, VECTOR_SECRET, VECTOR_SECRET_BYTES


@pytest.mark.parametrize(
    ("text", "kids"),
    [
        (f"k1 {VECTOR_SECRET}", ("k1",)),
        (f"k1 {VECTOR_SECRET}=", ("k1",)),  # padding is optional, accepted either way
        (f"# header\n\nk2 {OTHER_SECRET}  # newest\nk1 {VECTOR_SECRET}\n", ("k2", "k1")),
        (f"  a.b_c-D {VECTOR_SECRET}\t\n", ("a.b_c-D",)),
        (f"{'x' * 32} {VECTOR_SECRET}", ("x" * 32,)),
    ],
)
def test_parse_good_files(text: str, kids: tuple[str, ...]) -> None:
    ring = KeyRing.parse(text)
    assert ring.kids == kids
    assert ring.signing.kid == kids[0]
    assert all(ring.get(k) is not None for k in kids)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no keys"),
        ("# only a comment\n", "no keys"),
        (f"k1 {VECTOR_SECRET} extra", "line 1: expected '<kid> <secret>' (3 fields)"),
        ("k1", "line 1: expected '<kid> <secret>' (1 fields)"),
        (f"k1 {VECTOR_SECRET}\nk!2 {OTHER_SECRET}", "line 2: key id 'k!2'"),
        (f"{'x' * 33} {VECTOR_SECRET}", "expected 1-32 characters"),
        ("k1 c2hvcnQ", "line 1: key 'k1': secret is 5 bytes, at least 16"),
        ("k1 not+base64/url", "line 1: secret is not base64url"),
        ("k1 AAAAA", "line 1: secret is not valid base64url"),
        (f"k1 {VECTOR_SECRET}\nk1 {OTHER_SECRET}", "key id 'k1' is listed twice"),
    ],
)
def test_parse_errors_name_the_line_never_the_secret(text: str, message: str) -> None:
    with pytest.raises(KeyFileError) as info:
        KeyRing.parse(text, source="/etc/keys.txt")
    assert message in str(info.value)
    assert str(info.value).startswith("/etc/keys.txt")
    for secret in (VECTOR_SECRET, OTHER_SECRET, "c2hvcnQ", "not+base64/url"):
        assert secret not in str(info.value)


def test_from_file_missing_and_loose_permissions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(KeyFileError, match="key file not found"):
        KeyRing.from_file(tmp_path / "nope.txt")
    path = tmp_path / "keys.txt"
    path.write_text(f"k1 {VECTOR_SECRET}\n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        KeyRing.from_file(path)
    assert "readable by group or others" in caplog.text
    caplog.clear()
    os.chmod(path, 0o600)
    with caplog.at_level(logging.WARNING):
        assert KeyRing.from_file(path).kids == ("k1",)
    assert caplog.text == ""


def test_keygen_line_is_a_valid_fresh_key() -> None:
    lines = {new_key_line("2026-11") for _ in range(5)}
    assert len(lines) == 5  # random every time
    for line in lines:
        kid, secret = line.split(" ")
        assert kid == "2026-11"
        assert len(decode_secret(secret)) == 32
        assert KeyRing.parse(line).kids == ("2026-11",)
    with pytest.raises(KeyFileError):
        new_key_line("bad kid")


def test_reprs_hide_key_material() -> None:
    ring = KeyRing.parse(f"k1 {VECTOR_SECRET}")
    shown = repr(ring) + repr(ring.signing) + repr(ring.signing.mac) + str(ring)
    assert "k1" in shown
    for leak in (VECTOR_SECRET, VECTOR_SECRET_BYTES.decode(), VECTOR_SECRET_BYTES.hex()):
        assert leak not in shown
    with pytest.raises(TypeError):
        pickle.dumps(ring.signing.mac)
