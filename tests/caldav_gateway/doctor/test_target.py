"""The doctor's target: the URL it checks, and a password that travels only over a trusted
connection."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from caldav_gateway.doctor.target import USER_AGENT, Target
from edgeward import pki
from edgeward.secrets import Secret

PASSWORD = "doctor-s3cret-Pw!"


@pytest.mark.parametrize(
    ("url", "tls", "host", "port", "origin", "path"),
    [
        ("https://cal.test/", True, "cal.test", 443, "https://cal.test:443", "/"),
        ("https://cal.test:8443", True, "cal.test", 8443, "https://cal.test:8443", "/"),
        ("http://127.0.0.1:8080/dav/", False, "127.0.0.1", 8080, "http://127.0.0.1:8080", "/dav/"),
        ("http://localhost", False, "localhost", 80, "http://localhost:80", "/"),
        ("https://[::1]:8443/x", True, "::1", 8443, "https://[::1]:8443", "/x"),
    ],
)  # fmt: skip
def test_parts_of_the_url(
    url: str, tls: bool, host: str, port: int, origin: str, path: str
) -> None:
    t = Target.parse(url, "alice", Secret(PASSWORD))
    assert (t.tls, t.host, t.port, t.origin, t.path) == (tls, host, port, origin, path)


@pytest.mark.parametrize(
    ("url", "ca", "message"),
    [
        ("cal.example.org", None, "expected an https:// URL"),
        ("ftp://cal.example.org/", None, "expected an https:// URL"),
        ("https:///nohost", None, "expected an https:// URL"),
        ("https://alice:pw@cal.example.org/", None, "not the URL"),
        ("https://cal.example.org:http/", None, "the port is not a number"),
        ("https://cal.example.org/", "{tmp}/missing.pem", "CA file not found"),
        ("https://cal.example.org/", "{tmp}/not-pem.pem", "not a PEM CA certificate"),
        ("https://cal.example.org/", "{tmp}/" + "x" * 300, "--ca"),
    ],
)
def test_bad_input_is_a_sentence_naming_it(
    tmp_path: Path, url: str, ca: str | None, message: str
) -> None:
    (tmp_path / "not-pem.pem").write_text("hello\n")
    ca_path = Path(ca.format(tmp=tmp_path)) if ca else None
    with pytest.raises(ValueError, match=message) as exc:
        Target.parse(url, "alice", Secret(PASSWORD), ca_path)
    assert PASSWORD not in str(exc.value)


def test_a_private_ca_is_the_only_trust_anchor(tmp_path: Path) -> None:
    ca = pki.make_ca("doctor test CA")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    t = Target.parse("https://127.0.0.1:1/", "alice", Secret(PASSWORD), tmp_path / "ca.pem")
    subjects = [dict(rdn[0] for rdn in c["subject"]) for c in t.verifying_context().get_ca_certs()]
    assert [s["commonName"] for s in subjects] == ["doctor test CA"]


@pytest.mark.parametrize(
    ("trusted", "with_auth", "sends_auth"),
    [(True, False, False), (True, True, True), (False, False, False)],
)
def test_clients_carry_the_password_only_when_asked_and_trusted(
    trusted: bool, with_auth: bool, sends_auth: bool
) -> None:
    t = Target.parse("https://127.0.0.1:8443/", "alice", Secret(PASSWORD))
    with t.client(trusted=trusted, with_auth=with_auth) as client:
        request = client.build_request("PROPFIND", "/")
        assert (client.auth is not None) is sends_auth
        if client.auth is not None:  # what goes on the wire once httpx applies the auth
            sent = next(client.auth.sync_auth_flow(request))
            expected = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
            assert sent.headers["authorization"] == f"Basic {expected}"
        assert request.headers["user-agent"] == USER_AGENT
        assert str(request.url) == "https://127.0.0.1:8443/"
        assert client.follow_redirects is False  # a redirect is something the doctor checks


def test_untrusted_client_never_carries_the_password() -> None:
    target = Target.parse("https://localhost:1/", "alice", Secret(PASSWORD))
    with pytest.raises(ValueError, match="unverified"):
        target.client(trusted=False, with_auth=True)
    assert PASSWORD not in repr(target)
