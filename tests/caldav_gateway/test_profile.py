"""CalDAV/CardDAV account profiles: plistlib parses each, and a schema written from Apple's
published payload keys (apple/device-management ``mdm/profiles``:
``com.apple.caldav.account``, ``com.apple.carddav.account``, ``com.apple.security.root``,
``TopLevel``, ``CommonPayloadKeys``) accepts them; which CA is included, when."""

from __future__ import annotations

import json
import plistlib
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from caldav_gateway.profile import (
    Account,
    ProfileError,
    build,
    has_address_books,
    root_to_include,
)
from edgeward import pki
from edgeward.secrets import Secret
from tests.support.gateway import check

CA = pki.make_ca("profile test CA")
CASES = [
    # (name, kwargs, payload types expected in order)
    ("plain", {}, ["com.apple.caldav.account"]),
    ("root", {"root": CA.cert}, ["com.apple.security.root", "com.apple.caldav.account"]),
    ("carddav", {"carddav": True}, ["com.apple.caldav.account", "com.apple.carddav.account"]),
    (
        "all",
        {"root": CA.cert, "carddav": True, "password": Secret("pw-XYZ")},
        ["com.apple.security.root", "com.apple.caldav.account", "com.apple.carddav.account"],
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "types"), CASES, ids=[c[0] for c in CASES])
def test_profiles_parse_and_pass_the_schema(
    name: str, kwargs: dict[str, Any], types: list[str]
) -> None:
    account = Account("alice", "cal.example.org", 8443)
    profile = plistlib.loads(build(account, **kwargs))
    assert check(profile) == []
    assert [p["PayloadType"] for p in profile["PayloadContent"]] == types
    caldav = next(
        p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.caldav.account"
    )
    assert caldav["CalDAVHostName"] == "cal.example.org"
    assert caldav["CalDAVPort"] == 8443 and caldav["CalDAVUseSSL"] is True
    assert caldav["CalDAVPrincipalURL"] == "https://cal.example.org:8443/alice/"
    assert caldav["CalDAVUsername"] == "alice"
    assert ("CalDAVPassword" in caldav) == ("password" in kwargs)
    assert "alice" in profile["PayloadDisplayName"]
    # uuid4 everywhere, all different
    ids = [profile["PayloadUUID"]] + [p["PayloadUUID"] for p in profile["PayloadContent"]]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)
    if "root" in kwargs:
        root = profile["PayloadContent"][0]
        assert root["PayloadContent"] == CA.cert.public_bytes(serialization.Encoding.DER)


def test_two_profiles_never_share_identifiers() -> None:
    account = Account("alice", "cal.example.org", 8443)
    a, b = (plistlib.loads(build(account)) for _ in range(2))
    assert a["PayloadUUID"] != b["PayloadUUID"]


SCHEMA_BREAKERS = [
    ("unknown key", lambda p: p["PayloadContent"][0].__setitem__("CalDAVFoo", 1)),
    ("missing host", lambda p: p["PayloadContent"][0].pop("CalDAVHostName")),
    ("port as text", lambda p: p["PayloadContent"][0].__setitem__("CalDAVPort", "8443")),
    ("ssl as int", lambda p: p["PayloadContent"][0].__setitem__("CalDAVUseSSL", 1)),
    ("top type", lambda p: p.__setitem__("PayloadType", "Other")),
]


@pytest.mark.parametrize(("name", "breaker"), SCHEMA_BREAKERS, ids=[c[0] for c in SCHEMA_BREAKERS])
def test_the_schema_test_catches_mistakes(name: str, breaker: Any) -> None:
    profile = plistlib.loads(build(Account("alice", "cal.example.org", 8443)))
    breaker(profile)
    assert check(profile) != []


def test_ipv6_host_and_odd_user_names() -> None:
    profile = plistlib.loads(build(Account("a b@x", "::1", 8443)))
    caldav = profile["PayloadContent"][0]
    assert caldav["CalDAVPrincipalURL"] == "https://[::1]:8443/a%20b%40x/"
    assert " " not in profile["PayloadIdentifier"] and "@" not in profile["PayloadIdentifier"]
    assert check(profile) == []


def test_address_books_are_found_in_the_collections(tmp_path: Path) -> None:
    home = tmp_path / "collection-root" / "bob"
    (home / "cal").mkdir(parents=True)
    (home / "cal" / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}))
    assert not has_address_books(tmp_path, "bob")
    (home / "contacts").mkdir()
    (home / "contacts" / ".Radicale.props").write_text(json.dumps({"tag": "VADDRESSBOOK"}))
    assert has_address_books(tmp_path, "bob")
    assert not has_address_books(tmp_path, "alice")
    (home / "broken").mkdir()
    (home / "broken" / ".Radicale.props").write_text("{not json")
    assert has_address_books(tmp_path, "bob")


def test_root_to_include() -> None:
    leaf = pki.issue(CA, ["localhost"])
    # --ca wins
    assert root_to_include(leaf.cert_pem(), "localhost", CA.cert_pem()) == CA.cert
    # a chain ending in its self-signed root: that root
    assert root_to_include(leaf.cert_pem() + CA.cert_pem(), "localhost", None) == CA.cert
    # a private chain without its root: the operator must say which CA
    with pytest.raises(ProfileError, match="--ca"):
        root_to_include(leaf.cert_pem(), "localhost", None)
    with pytest.raises(ProfileError, match="not PEM"):
        root_to_include(b"junk", "localhost", None)
    with pytest.raises(ProfileError, match="--ca"):
        root_to_include(None, "localhost", b"junk")
    assert root_to_include(None, "localhost", None) is None


_user = st.text(
    st.characters(min_codepoint=33, exclude_categories=("Cs",), exclude_characters="/"),
    min_size=1,
    max_size=30,
)


@given(user=_user, port=st.integers(1, 65535), ipv6=st.booleans())
def test_any_user_gives_a_valid_profile(user: str, port: int, ipv6: bool) -> None:
    host = "::1" if ipv6 else "cal.example.org"
    profile = plistlib.loads(build(Account(user, host, port)))
    assert check(profile) == []
    caldav = profile["PayloadContent"][0]
    assert caldav["CalDAVUsername"] == user
    path = urllib.parse.urlsplit(caldav["CalDAVPrincipalURL"]).path
    assert urllib.parse.unquote(path) == f"/{user}/"
    assert urllib.parse.urlsplit(caldav["CalDAVPrincipalURL"]).port == port
