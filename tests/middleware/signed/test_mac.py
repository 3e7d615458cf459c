"""The prepared HMAC equals the standard library's, for any key and message."""

from __future__ import annotations

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
