"""``make run``'s preparation for the gateway: idempotent, password generated once."""

from __future__ import annotations

import argparse
from pathlib import Path

import bcrypt
from cryptography import x509

from caldav_gateway.cmd_serve import settings_from
from caldav_gateway.demo import prepare
from caldav_gateway.tls import load_pair


def test_prepare_is_idempotent_and_consistent(tmp_path: Path) -> None:
    first = prepare(tmp_path)
    folder = tmp_path / "caldav"
    password = (folder / "demo-password").read_text().strip()
    assert len(password) >= 12
    assert any(password in line for line in first)
    cert_before = (folder / "cert.pem").read_bytes()
    # same password, same files; only the one-time profile link is new each time
    again = prepare(tmp_path)
    links = [line for line in again if "one-tap profile for demo" in line]
    assert len(links) == 1 and links[0] not in first
    assert again[:2] == first[:2]
    assert (folder / "cert.pem").read_bytes() == cert_before
    assert (folder / "demo-password").stat().st_mode & 0o077 == 0

    user, hashed = (folder / "users.htpasswd").read_text().strip().split(":", 1)
    assert user == "demo"
    assert bcrypt.checkpw(password.encode(), hashed.encode())

    settings = settings_from(argparse.Namespace(config=folder / "gateway.toml"))
    assert settings.listen == "127.0.0.1:8443"
    assert settings.collections == folder / "collections"
    assert settings.cert is not None and settings.key is not None
    _, leaf = load_pair(settings.cert, settings.key)
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    assert leaf.issuer == ca.subject
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)


def test_expiring_certificate_is_renewed(tmp_path: Path) -> None:
    import datetime as dt

    from edgeward import pki

    prepare(tmp_path)
    folder = tmp_path / "caldav"
    ca_key = folder / "ca-key.pem"
    ca_cert = folder / "ca.pem"
    assert ca_key.exists()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    old = pki.issue(pki.make_ca(), not_after=soon)
    pki.write_pair(old, folder / "key.pem", folder / "cert.pem")
    prepare(tmp_path)
    leaf = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    assert leaf.not_valid_after_utc > soon + dt.timedelta(days=30)
    assert leaf.issuer == x509.load_pem_x509_certificate(ca_cert.read_bytes()).subject
