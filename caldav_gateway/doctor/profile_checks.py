"""``doctor --profile``: does an Apple profile point at what the live server answers?

From the ``com.apple.caldav.account`` payload: host, port, TLS and principal URL; from the
``com.apple.security.root`` payload (if any): the CA the device will trust. Checks: the
principal URL is on the same host and port, TLS is on, the certificate served WITHOUT SNI
verifies against the profile's CA (or the system store when it has none) and covers the
host, the principal path reaches Radicale (an anonymous PROPFIND answers 401, not the
gateway's 404) and, with a password, that the server's ``current-user-principal`` is the
profile's principal URL.
"""

from __future__ import annotations

import plistlib
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from caldav_gateway.doctor.dav import DAV, DavError, parse_multistatus, propfind_body
from caldav_gateway.doctor.probe_checks import propfind
from caldav_gateway.doctor.report import Check, failed, passed
from caldav_gateway.doctor.target import USER_AGENT
from caldav_gateway.doctor.tls_checks import covers
from edgeward.appleprofile import unwrap

_REMAKE = "make the profile again: caldav-gateway profile USER --host HOST --port PORT"


@dataclass(frozen=True)
class ProfileFacts:
    """What a device would configure from the profile."""

    host: str
    port: int
    user: str
    principal_url: str
    use_ssl: bool
    roots: tuple[bytes, ...]  # DER of each com.apple.security.root payload

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def principal_path(self) -> str:
        return urllib.parse.urlsplit(self.principal_url).path or "/"

    def roots_pem(self) -> bytes:
        return b"".join(
            x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM)
            for d in self.roots
        )


def read_profile(path: Path) -> ProfileFacts:
    """Parse a plain or signed profile; ``ValueError`` names what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        profile: Any = plistlib.loads(unwrap(raw))
    except (ValueError, plistlib.InvalidFileException, ExpatError) as exc:
        raise ValueError(f"{path}: not a configuration profile ({exc})") from None
    payloads = profile.get("PayloadContent") if isinstance(profile, dict) else None
    if not isinstance(payloads, list):
        raise ValueError(f"{path}: no PayloadContent list")
    dicts = [p for p in payloads if isinstance(p, dict)]
    caldav = next((p for p in dicts if p.get("PayloadType") == "com.apple.caldav.account"), None)
    if caldav is None:
        raise ValueError(f"{path}: no com.apple.caldav.account payload")
    host, port = caldav.get("CalDAVHostName"), caldav.get("CalDAVPort", 443)
    use_ssl = caldav.get("CalDAVUseSSL", True)
    if not isinstance(host, str) or not host or not isinstance(port, int):
        raise ValueError(f"{path}: CalDAVHostName/CalDAVPort missing or of the wrong type")
    if isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError(f"{path}: CalDAVPort {port} is not a port number")
    roots = tuple(
        p["PayloadContent"]
        for p in dicts
        if p.get("PayloadType") == "com.apple.security.root"
        and isinstance(p.get("PayloadContent"), bytes)
    )
    for der in roots:
        try:
            x509.load_der_x509_certificate(der)
        except ValueError:
            raise ValueError(f"{path}: a root payload holds no certificate") from None
    return ProfileFacts(
        host=host,
        port=port,
        user=str(caldav.get("CalDAVUsername", "")),
        principal_url=str(caldav.get("CalDAVPrincipalURL", "")),
        use_ssl=use_ssl is True,
        roots=roots,
    )


def _served_certificate(facts: ProfileFacts, timeout: float) -> tuple[bytes | None, str]:
    """(DER of the certificate served without SNI if it verifies, else None; why not)."""
    if facts.roots:
        ctx = ssl.create_default_context(cadata=facts.roots_pem().decode("ascii"))
    else:
        ctx = ssl.create_default_context()
    ctx.check_hostname = False  # names are matched by covers(), also for a client without SNI
    try:
        with (
            socket.create_connection((facts.host, facts.port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=None) as tls,
        ):
            return tls.getpeercert(binary_form=True), ""
    except ssl.SSLCertVerificationError as exc:
        return None, str(exc.verify_message or exc.reason or exc)
    except (OSError, ssl.SSLError) as exc:
        return None, f"no TLS handshake with {facts.host}:{facts.port} ({exc})"


def anonymous_client(facts: ProfileFacts, timeout: float) -> httpx.Client:
    # No password travels on it, so the chain is not checked here (profile.certificate is).
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return httpx.Client(
        base_url=facts.origin, verify=ctx, timeout=timeout, headers={"User-Agent": USER_AGENT}
    )


def check_profile(
    facts: ProfileFacts, timeout: float, authed: httpx.Client | None = None
) -> list[Check]:
    out: list[Check] = []
    where = urllib.parse.urlsplit(facts.principal_url)
    origin_ok = (
        where.scheme == "https"
        and (where.hostname or "").lower() == facts.host.lower()
        and (where.port or 443) == facts.port
    )
    title = "principal URL on the account's host and port"
    if origin_ok:
        out.append(passed("profile.principal_url", title, facts.principal_url))
    else:
        detail = f"{facts.principal_url!r} is not under {facts.origin}"
        out.append(failed("profile.principal_url", title, detail, _REMAKE))
    if facts.use_ssl:
        out.append(passed("profile.tls", "TLS on", "CalDAVUseSSL is true"))
    else:
        fix = "Apple clients will not send the password without TLS; " + _REMAKE
        out.append(failed("profile.tls", "TLS on", "CalDAVUseSSL is false", fix))

    title = "served certificate (no SNI) trusted by the profile"
    der, why = _served_certificate(facts, timeout)
    trust = "the profile's CA" if facts.roots else "the system trust store"
    if der is None:
        fix = (
            "give the gateway's CA with --ca when making the profile"
            if not facts.roots or "verify" in why
            else "start the gateway, or fix --host/--port in the profile"
        )
        out.append(failed("profile.certificate", title, f"{why} (against {trust})", fix))
    elif not covers(x509.load_der_x509_certificate(der), facts.host):
        fix = "serve a certificate whose subjectAltName holds the profile's host"
        detail = f"verifies against {trust} but is not valid for {facts.host}"
        out.append(failed("profile.certificate", title, detail, fix))
    else:
        out.append(passed("profile.certificate", title, f"valid for {facts.host} ({trust})"))

    title = "principal path reaches Radicale"
    path = facts.principal_path
    try:
        with anonymous_client(facts, timeout) as client:
            status = propfind(client, path).status_code
    except httpx.HTTPError as exc:
        out.append(failed("profile.principal", title, f"PROPFIND {path}: {exc}", _REMAKE))
        return out
    if status == 401:
        out.append(passed("profile.principal", title, f"PROPFIND {path} → 401 (log in)"))
    else:
        fix = "check the user name (is it in --htpasswd?) and the port; " + _REMAKE
        out.append(failed("profile.principal", title, f"PROPFIND {path} → {status}", fix))

    if authed is not None:
        out.append(_principal_matches(facts, authed))
    return out


def _principal_matches(facts: ProfileFacts, authed: httpx.Client) -> Check:
    title = "server's current-user-principal is the profile's"
    try:
        r = propfind(authed, "/", propfind_body([(DAV, "current-user-principal")]))
        found = parse_multistatus(r.content) if r.status_code == 207 else []
    except (httpx.HTTPError, DavError) as exc:
        return failed("profile.principal_match", title, f"PROPFIND /: {exc}", _REMAKE)
    href = next((x.href_of(DAV, "current-user-principal") for x in found), None)
    if href is None:
        return failed("profile.principal_match", title, "no current-user-principal", _REMAKE)
    got = urllib.parse.urlsplit(href).path
    if got.rstrip("/") == facts.principal_path.rstrip("/"):
        return passed("profile.principal_match", title, got)
    return failed(
        "profile.principal_match", title, f"server: {got}, profile: {facts.principal_path}", _REMAKE
    )
