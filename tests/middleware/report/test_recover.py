"""Recovering corrupted signed URLs: transport damage is repaired, forgery is not."""

from __future__ import annotations

import pytest

from middleware.report.recover import URL_CHARS, is_signed, recover
from middleware.signed import KeyRing, sign_url

RING = KeyRing.from_secrets([("k1", b"secret-key-for-test-vectors-0001")])
OTHER = KeyRing.from_secrets([("k1", b"a-different-secret-of-32-bytes!!")])
URL = sign_url("/media/IMG_0042.jpg?w=640", RING, expires_at=1893456000)


def damaged(url: str, at: int, sig: bytes = b"\x80\x01") -> bytes:
    raw = url.encode()
    return raw[:at] + sig + raw[at + 2 :]


@pytest.mark.parametrize(
    ("at", "sig"),
    [
        (1, b"\x80\x01"),  # in the path
        (URL.index("?") + 1, b"\x80\x04"),  # the query's first parameter
        (URL.index("kid="), b"\x80\x01"),  # the key id's name
        (URL.index("&sig=") + 8, b"\x80\x04"),  # inside the signature itself
        (len(URL) - 2, b"\x80\x01"),  # the last two characters
    ],
)
def test_recovers_the_original_wherever_the_window_falls(at: int, sig: bytes) -> None:
    r = recover(damaged(URL, at, sig), RING)
    assert r.original == URL.encode() and r.kid == "k1"
    assert 1 <= r.tries <= len(URL_CHARS) ** 2


def test_an_expired_link_still_proves_the_signature() -> None:
    old = sign_url("/dl/report.pdf", RING, expires_at=1_000_000)
    assert recover(damaged(old, 3), RING).original == old.encode()


def test_a_forgery_is_not_recovered() -> None:
    forged = sign_url("/media/IMG_0042.jpg?w=640", OTHER, expires_at=1893456000)
    r = recover(damaged(forged, 5), RING)
    assert r.original is None
    assert r.tries == len(URL_CHARS) ** 2  # every candidate of the one window was tried


@pytest.mark.parametrize("max_tries", [0, 1, 100])
def test_work_per_url_is_bounded(max_tries: int) -> None:
    r = recover(damaged(URL, URL.index("&sig=") + 20), RING, max_tries=max_tries)
    assert r.tries <= max_tries


@pytest.mark.parametrize(
    "target",
    [URL.encode(), b"/media/x%80%01y?kid=k1&sig=abc", b""],  # clean; percent-encoded; empty
)
def test_nothing_to_repair(target: bytes) -> None:
    r = recover(target, RING)
    assert r.original is None and r.tries == 0


def test_control_byte_windows_include_the_byte_before() -> None:
    # A single control byte may be the second of the two replaced characters.
    raw = URL.encode()
    at = 6
    target = raw[: at - 1] + b"Z\x01" + raw[at + 1 :]
    assert recover(target, RING).original == raw


@pytest.mark.parametrize(
    ("target", "signed"),
    [
        (URL.encode(), True),
        (damaged(URL, URL.index("kid=")), True),  # kid= damaged, sig= left
        (damaged(URL, URL.index("sig=")), True),  # sig= damaged, kid= left
        (b"/media/IMG_0042.jpg?w=640", False),
    ],
)
def test_is_signed_survives_the_window(target: bytes, signed: bool) -> None:
    assert is_signed(target) is signed
