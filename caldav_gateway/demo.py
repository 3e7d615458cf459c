"""``make run``: what the gateway needs under ``var/caldav/`` (idempotent).

A local CA and a certificate for ``localhost``/``127.0.0.1``/``::1`` (renewed when fewer
than 14 days are left), a user ``demo`` whose password is generated once and kept in
``var/caldav/demo-password``, the collections folder and ``gateway.toml`` listening on
loopback only. Each run also prints a fresh one-time link (15 minutes) to the demo user's
signed account profile, served by the gateway under ``/.profile/``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from caldav_gateway import links
from caldav_gateway.profile import Account, build
from edgeward import pki
from edgeward.appleprofile import sign
from edgeward.files import atomic_write
from edgeward.qr import terminal
from edgeward.secrets import Secret

GATEWAY_TOML = """\
# Written by caldav_gateway/demo.py for `make run`; paths are relative to this file.
listen = "127.0.0.1:8443"
metrics_listen = "127.0.0.1:9465"
cert = "cert.pem"
key = "key.pem"
htpasswd = "users.htpasswd"
collections = "collections"
"""


def _ca(folder: Path) -> pki.Issued:
    ca_cert, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    if ca_cert.exists() and ca_key.exists():
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        assert isinstance(key, pki.PrivateKey)  # written by us below
        return pki.Issued(key, cert)
    ca = pki.make_ca("edgeward demo CA (make run)")
    pki.write_pair(ca, ca_key, ca_cert)
    return ca


def _needs_certificate(cert: Path, key: Path) -> bool:
    if not (cert.exists() and key.exists()):
        return True
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    return leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) < dt.timedelta(days=14)


def prepare(var: Path) -> list[str]:
    folder = var / "caldav"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "collections").mkdir(exist_ok=True)
    ca = _ca(folder)
    cert, key = folder / "cert.pem", folder / "key.pem"
    if _needs_certificate(cert, key):
        pki.write_pair(pki.issue(ca, ["localhost", "127.0.0.1", "::1"], days=90), key, cert)
    password_file = folder / "demo-password"
    if not password_file.exists():
        atomic_write(password_file, secrets.token_urlsafe(12).encode() + b"\n", mode=0o600)
    password = password_file.read_text(encoding="utf-8").strip()
    htpasswd = folder / "users.htpasswd"
    if not htpasswd.exists():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()
        atomic_write(htpasswd, f"demo:{hashed}\n".encode(), mode=0o600)
    toml = folder / "gateway.toml"
    if not toml.exists():
        toml.write_text(GATEWAY_TOML, encoding="utf-8")
    return [
        f"caldav: user demo, password {password} (kept in {password_file})",
        f"caldav: trust {folder / 'ca.pem'}, e.g.",
        f'$ curl --cacert {folder / "ca.pem"} -u "demo:$(cat {password_file})" '
        "-X PROPFIND -H 'Depth: 0' https://localhost:8443/",
        *_profile_link(folder, ca, cert, key),
    ]


def _profile_link(folder: Path, ca: pki.Issued, cert: Path, key: Path) -> list[str]:
    """A new link to the demo user's signed profile (what ``profile --link`` prints)."""
    profile = build(Account("demo", "localhost", 8443), root=ca.cert)
    signed = sign(profile, cert.read_bytes(), Secret(key.read_text(encoding="ascii")))
    url = links.issue(
        folder / "collections",
        "demo",
        signed,
        base_url="https://localhost:8443",
        expires_in=900,
    )
    return [
        f"caldav: one-tap profile for demo (15 min, works once): {url}",
        *terminal(url).splitlines(),
    ]
