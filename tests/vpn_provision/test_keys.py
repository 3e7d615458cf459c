"""WireGuard keys and passwords: the right sizes, from a CSPRNG, and the public key ``wg``
itself computes."""

from __future__ import annotations

import base64
import re

import pytest

from edgeward.secrets import Secret
from tests.support.tools import require_tool
from tests.support.vpn import run_tool
from vpn_provision import keys


def _raw(secret: Secret) -> bytes:
    return base64.b64decode(secret.reveal(), validate=True)


@pytest.mark.parametrize("make", [keys.wg_private_key, keys.wg_preshared_key])
def test_keys_are_32_random_bytes_of_base64(make: object) -> None:
    made = [make() for _ in range(20)]  # type: ignore[operator]
    assert all(len(_raw(k)) == keys.KEY_BYTES for k in made)
    assert len({k.reveal() for k in made}) == 20
    assert all(k.reveal() not in repr(k) for k in made)  # a Secret never prints itself


def test_public_key_is_what_wg_pubkey_prints() -> None:
    wg = require_tool("wg", "wireguard-tools")
    for _ in range(3):
        private = keys.wg_private_key()
        expected = run_tool(wg, "pubkey", stdin=private.reveal() + "\n").stdout.strip()
        assert keys.wg_public_key(private) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "32 bytes of base64"),
        ("not base64!", "base64"),
        (base64.b64encode(b"x" * 31).decode(), "32 bytes of base64"),
        (base64.b64encode(b"x" * 33).decode(), "32 bytes of base64"),
    ],
)
def test_a_bad_private_key_is_a_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as exc:
        keys.wg_public_key(Secret(text))
    assert text == "" or text not in str(exc.value)  # the key itself is not echoed


def test_passwords_are_24_url_safe_characters() -> None:
    made = {keys.password().reveal() for _ in range(20)}
    assert len(made) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", p) for p in made)
