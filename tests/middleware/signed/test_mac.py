"""The prepared HMAC equals the standard library's, for any key and message."""

from __future__ import annotations

import base64
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.signed.mac import HmacSha256


@settings(max_examples=150)
@given(key=st.binary(min_size=0, max_size=200), messages=st.lists(st.binary(max_size=300)))
def test_equals_hmac_digest(key: bytes, messages: list[bytes]) -> None:
    mac = HmacSha256(key)
    for message in messages:  # one prepared key, many messages: state must not leak between
        assert mac.digest(message) == hmac.digest(key, message, "sha256")


@settings(max_examples=150)
@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_b64url_equals_the_standard_library(key: bytes, message: bytes) -> None:
    expected = base64.urlsafe_b64encode(hmac.digest(key, message, "sha256")).rstrip(b"=")
    assert HmacSha256(key).b64url(message) == expected
