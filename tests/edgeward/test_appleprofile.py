"""The shared Apple-profile pieces: envelope, root payload, CMS signing and unwrapping."""

from __future__ import annotations

import contextlib
import plistlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeward import pki
from edgeward.appleprofile import envelope, new_uuid, reverse_dns, root_payload, sign, unwrap
from edgeward.secrets import Secret


def _profile() -> bytes:
    ca = pki.make_ca("unwrap CA")
    return envelope(
        identifier="org.example.test",
        uuid=new_uuid(),
        display_name="t",
        description="d",
        organization="example.org",
        content=[root_payload(ca.cert, identifier="org.example.test.ca", uuid=new_uuid())],
    )


def test_signed_profile_unwraps_to_the_same_plist() -> None:
    ca = pki.make_ca("signer CA")
    leaf = pki.issue(ca, ["localhost"])
    plain = _profile()
    signed = sign(plain, leaf.cert_pem() + ca.cert_pem(), Secret(leaf.key_pem().decode()))
    assert not signed.startswith(b"<?xml")
    assert unwrap(signed) == plain
    assert unwrap(plain) == plain
    assert plistlib.loads(unwrap(signed))["PayloadType"] == "Configuration"


def test_reverse_dns() -> None:
    assert reverse_dns("cal.example.org") == "org.example.cal"


@pytest.mark.parametrize(
    "junk", [b"", b"\x30", b"\x30\x82\xff\xff", b"hello", b"\x30\x03\x02\x01\x01"]
)
def test_unwrap_refuses_junk(junk: bytes) -> None:
    with pytest.raises(ValueError, match="neither a plist nor a signed"):
        unwrap(junk)


@given(st.binary(max_size=300))
def test_unwrap_fuzz_only_value_errors(data: bytes) -> None:
    # Any input: the plist back, or a ValueError (never IndexError and the like).
    with contextlib.suppress(ValueError):
        unwrap(data)
    with contextlib.suppress(ValueError):
        unwrap(b"\x30\x80" + data)
