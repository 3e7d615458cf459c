"""The doctor's TLS checks: which names a certificate covers; expired, expiring and
wrong-host certificates; a shared IP:port picking certificates by SNI (nginx); TLS 1.1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from caldav_gateway.doctor.tls_checks import covers
from edgeward import pki
from tests.support.gateway import (
    doctor,
    plain_radicale,
    write_pki,
)
from tests.support.net import free_port, wait_port
from tests.support.servers import nginx


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (("cal.example.org",), "cal.example.org", True),
        (("cal.example.org",), "CAL.Example.org.", True),
        (("cal.example.org",), "example.org", False),
        (("*.example.org",), "cal.example.org", True),
        (("*.example.org",), "a.cal.example.org", False),
        (("*.example.org",), "example.org", False),
        (("127.0.0.1",), "127.0.0.1", True),
        (("127.0.0.1",), "127.0.0.2", False),
        (("::1",), "::1", True),
        (("localhost",), "127.0.0.1", False),
    ],
)
def test_name_matching_uses_subject_alt_names(
    names: tuple[str, ...], host: str, expected: bool
) -> None:
    cert = pki.issue(_CA, names).cert
    assert covers(cert, host) is expected


_CA = pki.make_ca()


@pytest.mark.parametrize(
    ("case", "names", "validity", "failing", "detail"),
    [
        (
            "expired",
            ("localhost", "127.0.0.1"),
            {
                "not_before": dt.datetime.now(dt.UTC) - dt.timedelta(days=100),
                "not_after": dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            },
            {"tls.no-sni", "tls.expiry"},
            "expired",
        ),
        (
            "expires-soon",
            ("localhost", "127.0.0.1"),
            {
                "not_before": dt.datetime.now(dt.UTC) - dt.timedelta(days=80),
                "not_after": dt.datetime.now(dt.UTC) + dt.timedelta(days=10),
            },
            {"tls.expiry"},
            "days left",
        ),
        ("wrong-host", ("cal.example.org",), {}, {"tls.no-sni"}, "not valid for 'localhost'"),
    ],
)
def test_certificate_problems_fail_tls_checks(
    tmp_path: Path,
    password_file: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    names: tuple[str, ...],
    validity: dict[str, dt.datetime],
    failing: set[str],
    detail: str,
) -> None:
    ca, cert, key = write_pki(tmp_path, names, **validity)
    with plain_radicale(tmp_path, cert, key) as port:
        code, checks, _ = doctor(capsys, f"https://localhost:{port}/", password_file, ca)
    assert code == 1
    tls_failed = {k for k, c in checks.items() if k.startswith("tls.") and c["status"] == "fail"}
    assert tls_failed == failing, case
    assert detail in " ".join(checks[k]["detail"] for k in failing)
    if "tls.no-sni" in failing:
        # An untrusted certificate: the password must not travel, discovery is skipped.
        assert {checks[k]["status"] for k in checks if k.startswith("discovery.")} == {"skip"}
    else:
        assert checks["discovery.principal"]["status"] == "pass"


def test_shared_ip_port_picking_certificates_by_sni(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shared vhost: SNI 'localhost' gets the right certificate, no SNI the default one."""
    ca = pki.make_ca()
    right = pki.issue(ca, ("localhost",))
    other = pki.issue(ca, ("www.example.org",))
    pki.write_pair(right, tmp_path / "right.key", tmp_path / "right.pem")
    pki.write_pair(other, tmp_path / "other.key", tmp_path / "other.pem")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    port = free_port()
    block = f"""
    server {{
        listen 127.0.0.1:{port} ssl default_server;
        server_name www.example.org;
        ssl_certificate {tmp_path}/other.pem;
        ssl_certificate_key {tmp_path}/other.key;
        location / {{ return 404; }}
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {tmp_path}/right.pem;
        ssl_certificate_key {tmp_path}/right.key;
        location / {{ return 404; }}
    }}
    """
    with nginx(block, tmp_path):
        wait_port(port)
        code, checks, _ = doctor(
            capsys, f"https://localhost:{port}/", password_file, tmp_path / "ca.pem"
        )
    assert code == 1
    assert checks["tls.no-sni"]["status"] == "fail"
    assert "www.example.org" in checks["tls.no-sni"]["detail"]
    assert checks["tls.sni"]["status"] == "fail"
    assert "dedicate" in checks["tls.sni"]["fix"]


def test_server_still_accepting_tls_1_1_fails_the_version_check(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cert, key = write_pki(tmp_path, ("localhost",))
    port = free_port()
    block = f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
        ssl_ciphers "DEFAULT:@SECLEVEL=0";
        location / {{ return 404; }}
    }}
    """
    with nginx(block, tmp_path):
        wait_port(port)
        code, checks, _ = doctor(capsys, f"https://localhost:{port}/", password_file, ca)
    assert code == 1
    assert checks["tls.version"]["status"] == "fail"
    assert "TLS 1.0/1.1 still accepted" in checks["tls.version"]["detail"]
    assert checks["tls.no-sni"]["status"] == "pass"
