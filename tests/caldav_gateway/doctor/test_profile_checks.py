"""``doctor --profile`` reads any file a user may hand it: the profile, or a clear error."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caldav_gateway.doctor.profile_checks import read_profile
from caldav_gateway.profile import Account, build
from edgeward import pki

# XML plists cannot hold control characters (plistlib refuses to write them).
_text = st.text(st.characters(min_codepoint=32, exclude_categories=("Cs",)), max_size=20)
_plist_values = st.recursive(
    st.none().map(lambda _: "")
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | _text
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)
_payload = st.fixed_dictionaries(
    {"PayloadType": st.sampled_from(["com.apple.caldav.account", "com.apple.security.root", "x"])},
    optional={
        "CalDAVHostName": _plist_values,
        "CalDAVPort": _plist_values,
        "CalDAVUseSSL": _plist_values,
        "PayloadContent": _plist_values,
    },
)


def _read(tmp: Path, data: bytes) -> None:
    f = tmp / "p.mobileconfig"
    f.write_bytes(data)
    try:
        read_profile(f)
    except ValueError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith(f"{f}: ")  # names the file, one sentence


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(data=st.binary(max_size=200))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    _read(tmp_path, data)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(content=st.one_of(_plist_values, st.lists(_payload, max_size=3)))
def test_random_plists(tmp_path: Path, content: Any) -> None:
    _read(tmp_path, plistlib.dumps({"PayloadContent": content}))


def test_reads_back_what_profile_wrote(tmp_path: Path) -> None:
    ca = pki.make_ca("read back")
    f = tmp_path / "p.mobileconfig"
    f.write_bytes(build(Account("alice", "cal.example.org", 8443), root=ca.cert))
    facts = read_profile(f)
    assert (facts.host, facts.port, facts.user) == ("cal.example.org", 8443, "alice")
    assert facts.principal_path == "/alice/" and facts.use_ssl
    assert facts.roots_pem() == ca.cert_pem()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a configuration profile"),
        (plistlib.dumps({"PayloadContent": []}), "no com.apple.caldav.account"),
        (plistlib.dumps([1]), "no PayloadContent"),
        (
            plistlib.dumps(
                {"PayloadContent": [{"PayloadType": "com.apple.caldav.account", "CalDAVPort": 1}]}
            ),
            "CalDAVHostName",
        ),
        (
            plistlib.dumps(
                {
                    "PayloadContent": [
                        {
                            "PayloadType": "com.apple.caldav.account",
                            "CalDAVHostName": "h",
                            "CalDAVPort": 70000,
                        }
                    ]
                }
            ),
            "not a port number",
        ),
    ],
)
def test_clear_errors(tmp_path: Path, data: bytes, message: str) -> None:
    f = tmp_path / "p.mobileconfig"
    f.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_profile(f)
