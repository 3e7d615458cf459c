"""The CalDAV gateway and its peers for the tests: the real gateway over TLS on loopback
(:func:`running_gateway`: ``python -m caldav_gateway serve`` as a child process on a free
port with a temporary CA and certificate for ``localhost``, ``127.0.0.1`` and ``::1``, an
htpasswd file of bcrypt hashes, temporary collections and ``--metrics-listen``), Radicale
serving TLS itself (the misconfiguration the gateway fixes), and the ``doctor`` and
``profile`` commands as the tests run them, with the account-profile schema."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import ssl
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest

from caldav_gateway.cli import main
from edgeward import pki
from edgeward.files import atomic_write
from tests.support.appleschema import COMMON, ROOT, B, K, S
from tests.support.appleschema import INT as I
from tests.support.appleschema import check_profile as check_schema
from tests.support.net import free_port, wait_port
from tests.support.servers import process

USERS = ("alice", "bob")


@dataclass
class Gateway:
    url: str  # https://127.0.0.1:PORT (no trailing slash)
    host: str
    port: int
    ca: Path  # PEM of the CA that signed the served certificate (ssl_verify_cert=...)
    cert: Path
    key: Path
    htpasswd: Path
    collections: Path
    metrics_url: str  # http://127.0.0.1:PORT/metrics
    log: Path  # the gateway's stdout+stderr
    users: dict[str, str] = field(default_factory=dict)  # username → password
    ca_issued: pki.Issued | None = None  # to issue renewed certificates in tests

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the test CA (for httpx ``verify=``, http.client)."""
        return ssl.create_default_context(cafile=str(self.ca))

    def mkcalendar(self, user: str, name: str) -> None:
        """Create ``/<user>/<name>/`` as that user (already there is fine)."""
        auth = (user, self.users[user])
        with httpx.Client(base_url=self.url, verify=self.ssl_context(), auth=auth) as http:
            r = http.request("MKCALENDAR", f"/{user}/{name}/")
        assert r.status_code in (201, 409), r.text  # 409: made by an earlier test


def write_htpasswd(path: Path, users: dict[str, str]) -> None:
    # Cost 4: real bcrypt hashes that do not make each request cost 250 ms.
    lines = [
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()}\n"
        for user, pw in users.items()
    ]
    atomic_write(path, "".join(lines).encode(), mode=0o600)


@contextlib.contextmanager
def running_gateway(
    tmp: Path,
    extra: Sequence[str] = (),
    *,
    users: Sequence[str] = USERS,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> Iterator[Gateway]:
    tmp.mkdir(parents=True, exist_ok=True)
    ca = pki.make_ca("edgeward test CA")
    leaf = pki.issue(ca, ["localhost", "127.0.0.1", "::1"])
    cert, key, ca_path = tmp / "cert.pem", tmp / "key.pem", tmp / "ca.pem"
    pki.write_pair(leaf, key, cert)
    ca_path.write_bytes(ca.cert_pem())
    passwords = {u: secrets.token_urlsafe(12) for u in users}
    htpasswd = tmp / "users.htpasswd"
    write_htpasswd(htpasswd, passwords)
    port, metrics_port = free_port(), free_port()
    log = tmp / "gateway.log"
    argv = [
        *prefix,  # e.g. prlimit with its options
        sys.executable,
        "-m",
        "caldav_gateway",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--cert",
        str(cert),
        "--key",
        str(key),
        "--htpasswd",
        str(htpasswd),
        "--collections",
        str(tmp / "collections"),
        "--metrics-listen",
        f"127.0.0.1:{metrics_port}",
        *extra,
    ]
    with process(argv, port=port, log=log, env=env, timeout=60):
        # The CalDAV socket is bound before the app is built; /metrics comes up last.
        wait_port(metrics_port, timeout=60)
        yield Gateway(
            url=f"https://127.0.0.1:{port}",
            host="127.0.0.1",
            port=port,
            ca=ca_path,
            cert=cert,
            key=key,
            htpasswd=htpasswd,
            collections=tmp / "collections",
            metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
            log=log,
            users=passwords,
            ca_issued=ca,
        )


@contextlib.contextmanager
def direct_radicale(
    tmp: Path, cert: Path, key: Path, htpasswd: Path, *, collections: Path | None = None
) -> Iterator[int]:
    """``python -m radicale`` serving TLS itself, no gateway: the peer and the misconfiguration.

    Its settings mirror what the gateway gives the embedded Radicale (htpasswd autodetect,
    ``owner_only`` rights, no auth delay, no web UI), so any difference a test sees comes
    from the gateway. Yields the port.
    """
    port = free_port()
    conf = tmp / "radicale.conf"
    conf.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\nssl = True\ncertificate = {cert}\nkey = {key}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {htpasswd}\n"
        "htpasswd_encryption = autodetect\ndelay = 0\nrealm = CalDAV\n"
        "[rights]\ntype = owner_only\n"
        f"[storage]\nfilesystem_folder = {collections or tmp / 'collections'}\n"
        "[web]\ntype = none\n[logging]\nmask_passwords = True\n"
    )
    argv = [sys.executable, "-m", "radicale", "-C", str(conf)]
    with process(argv, port=port, log=tmp / "radicale.log", timeout=60):
        yield port


DOCTOR_PASSWORD = "doctor-s3cret-Pw!"  # distinctive: the doctor tests grep output for it


def write_pki(
    tmp: Path,
    leaf_names: tuple[str, ...],
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> tuple[Path, Path, Path]:
    ca = pki.make_ca()
    leaf = pki.issue(ca, leaf_names, not_before=not_before, not_after=not_after)
    pki.write_pair(leaf, tmp / "key.pem", tmp / "cert.pem")
    (tmp / "ca.pem").write_bytes(ca.cert_pem())
    return tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"


@contextlib.contextmanager
def plain_radicale(tmp: Path, cert: Path, key: Path) -> Iterator[int]:
    write_htpasswd(tmp / "users", {"alice": DOCTOR_PASSWORD, "bob": DOCTOR_PASSWORD})
    with direct_radicale(tmp, cert, key, tmp / "users") as port:
        yield port


def doctor(
    capsys: pytest.CaptureFixture[str], url: str, pw: Path, ca: Path | None, user: str = "alice"
) -> tuple[int, dict[str, dict[str, str]], str]:
    argv = ["doctor", url, "--user", user, "--password-file", str(pw), "--json"]
    if ca is not None:
        argv += ["--ca", str(ca)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert DOCTOR_PASSWORD not in out + err, "the doctor printed the password"
    doc = json.loads(out)
    assert doc["ok"] is (code == 0)
    return code, {c["id"]: c for c in doc["checks"]}, out + err


def profile_args(gw: Gateway, user: str, *extra: str) -> list[str]:
    return [
        "profile",
        user,
        "--host",
        gw.host,
        "--port",
        str(gw.port),
        "--cert",
        str(gw.cert),
        "--key",
        str(gw.key),
        "--collections",
        str(gw.collections),
        "--ca",
        str(gw.ca),
        *extra,
    ]


def make_profile(gw: Gateway, tmp: Path, user: str, *extra: str) -> Path:
    out = tmp / f"{user}-{len(list(tmp.iterdir()))}.mobileconfig"
    assert main([*profile_args(gw, user, "--out", str(out)), *extra]) == 0
    return out


CALDAV = {  # com.apple.caldav.account.yaml
    **COMMON,
    "CalDAVAccountDescription": K(S),
    "CalDAVHostName": K(S, True),
    "CalDAVUsername": K(S),
    "CalDAVPassword": K(S),
    "CalDAVPrincipalURL": K(S),
    "CalDAVUseSSL": K(B),
    "CalDAVPort": K(I),
    "VPNUUID": K(S),
}


CARDDAV = {  # com.apple.carddav.account.yaml
    **COMMON,
    "CardDAVAccountDescription": K(S),
    "CardDAVHostName": K(S, True),
    "CardDAVUsername": K(S),
    "CardDAVPassword": K(S),
    "CardDAVPrincipalURL": K(S),
    "CardDAVUseSSL": K(B),
    "CardDAVPort": K(I),
    "CommunicationServiceRules": K(dict),
    "VPNUUID": K(S),
}


PAYLOADS = {
    "com.apple.caldav.account": CALDAV,
    "com.apple.carddav.account": CARDDAV,
    "com.apple.security.root": ROOT,
}


def check(profile: dict[str, Any]) -> list[str]:
    return check_schema(profile, PAYLOADS)
