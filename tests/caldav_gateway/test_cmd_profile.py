"""``caldav-gateway profile`` against the real gateway over TLS (``doctor --profile``:
``doctor/test_profile_run.py``).

The ``caldav`` library is configured ONLY from values read back out of the profile (host,
port, principal URL, user name, the CA of the root payload) and must complete discovery;
the gateway's host is an IP address, so no SNI is sent (as by Apple's daemons)."""

from __future__ import annotations

import plistlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from caldav_gateway.cli import main
from edgeward import pki
from edgeward.appleprofile import unwrap
from tests.support.gateway import Gateway, check, make_profile, profile_args
from tests.support.tools import require_tool


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`profile` writes USER.mobileconfig into the current folder by default: never into the
    checkout (a run once left alice.mobileconfig there)."""
    monkeypatch.chdir(tmp_path)


pytestmark = pytest.mark.slow


def payload(profile: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(p for p in profile["PayloadContent"] if p["PayloadType"] == kind)


def test_signed_profile_verifies_with_openssl_cms(gateway: Gateway, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    f = make_profile(gateway, tmp_path, "alice", "--sign")
    out = tmp_path / "content.plist"
    verify = [openssl, "cms", "-verify", "-inform", "DER", "-in", str(f)]
    verify += ["-CAfile", str(gateway.ca), "-purpose", "any", "-out", str(out)]
    p = subprocess.run(verify, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Verification successful" in p.stderr
    assert out.read_bytes() == unwrap(f.read_bytes())
    assert check(plistlib.loads(out.read_bytes())) == []
    # signed by the served certificate, not some other key
    other = pki.make_ca("someone else")
    bad = [openssl, "cms", "-verify", "-inform", "DER", "-in", str(f), "-purpose", "any"]
    o = tmp_path / "other.pem"
    o.write_bytes(other.cert_pem())
    assert subprocess.run([*bad, "-CAfile", str(o)], capture_output=True, timeout=60).returncode


def test_caldav_library_configured_only_from_the_profile(gateway: Gateway, tmp_path: Path) -> None:
    f = make_profile(gateway, tmp_path, "alice", "--sign")
    profile = plistlib.loads(unwrap(f.read_bytes()))
    assert check(profile) == []
    caldav = payload(profile, "com.apple.caldav.account")
    root = payload(profile, "com.apple.security.root")
    ca = tmp_path / "from-profile-ca.pem"
    ca.write_bytes(
        x509.load_der_x509_certificate(root["PayloadContent"]).public_bytes(
            serialization.Encoding.PEM
        )
    )
    assert caldav["CalDAVUseSSL"] is True
    url = caldav["CalDAVPrincipalURL"]
    assert url.startswith(f"https://{caldav['CalDAVHostName']}:{caldav['CalDAVPort']}/")
    user = caldav["CalDAVUsername"]
    with DAVClient(
        url=url, username=user, password=gateway.users[user], ssl_verify_cert=str(ca), timeout=20
    ) as client:
        principal = client.principal()
        assert str(principal.url).rstrip("/").endswith("/alice")
        principal.make_calendar(name="From profile", cal_id="from-profile")
        assert "From profile" in [c.get_display_name() for c in principal.calendars()]


def test_carddav_payload_only_for_users_with_address_books(
    gateway: Gateway, tmp_path: Path
) -> None:
    body = (
        '<?xml version="1.0"?><mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
        "<set><prop><resourcetype><collection/><C:addressbook/></resourcetype>"
        "</prop></set></mkcol>"
    )
    r = httpx.request(
        "MKCOL",
        gateway.url + "/bob/contacts/",
        content=body,
        auth=("bob", gateway.users["bob"]),
        verify=gateway.ssl_context(),
        timeout=20,
    )
    assert r.status_code == 201, r.text
    bob = plistlib.loads(make_profile(gateway, tmp_path, "bob").read_bytes())
    alice = plistlib.loads(make_profile(gateway, tmp_path, "alice").read_bytes())
    assert check(bob) == [] and check(alice) == []
    card = payload(bob, "com.apple.carddav.account")
    assert card["CardDAVPort"] == gateway.port and card["CardDAVUsername"] == "bob"
    types = [p["PayloadType"] for p in alice["PayloadContent"]]
    assert "com.apple.carddav.account" not in types


def test_no_password_anywhere_unless_asked(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = gateway.users["alice"]
    pw = tmp_path / "pw"
    pw.write_text(secret + "\n")
    plain = make_profile(gateway, tmp_path, "alice", "--sign")
    link = main(profile_args(gateway, "alice", "--sign", "--link", "--expires-in", "60"))
    assert link == 0
    url = capsys.readouterr().out.splitlines()[0]
    page = httpx.get(url, verify=gateway.ssl_context(), timeout=20)
    assert page.status_code == 200
    doctor = main(["doctor", "--profile", str(plain), "--password-file", str(pw)])
    out = capsys.readouterr()
    assert doctor == 0, out.out
    metrics = httpx.get(gateway.metrics_url, timeout=20).text
    state = b"".join(
        p.read_bytes() for p in (gateway.collections / "profile-links").rglob("*") if p.is_file()
    )
    for where, text in [
        ("profile", plain.read_bytes()),
        ("command output", (out.out + out.err).encode()),
        ("gateway log", gateway.log.read_bytes()),
        ("metrics", metrics.encode()),
        ("link page", page.content),
        ("link state", state),
    ]:
        assert secret.encode() not in text, where

    with_pw = make_profile(
        gateway, tmp_path, "alice", "--include-password", "--password-file", str(pw)
    )
    err = capsys.readouterr().err
    assert "warning" in err and secret not in err
    caldav = payload(plistlib.loads(with_pw.read_bytes()), "com.apple.caldav.account")
    assert caldav["CalDAVPassword"] == secret
    assert with_pw.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--include-password"], "--password-file"),
        (["--include-password", "--password-file", "/nonexistent", "--link"], "--link"),
        (["--nonsense"], "unknown option '--nonsense'"),
        (["--port", "0"], "port from 1 to 65535"),
        (["--host", "bad host!"], "not a host name or IP address"),
    ],
)
def test_usage_errors(
    gateway: Gateway, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(profile_args(gateway, "alice", *extra))
    except SystemExit as exc:  # argparse's own refusals
        code = int(str(exc.code))
    assert code == 2
    assert message in capsys.readouterr().err


def test_private_chain_without_ca_is_a_clear_error(gateway: Gateway, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "caldav_gateway", "profile", "alice", "--host", "localhost"]
    argv += ["--cert", str(gateway.cert), "--out", str(tmp_path / "x")]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "--ca" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x").exists()
