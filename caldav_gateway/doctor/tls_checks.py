"""TLS checks: what a client that omits SNI gets, and whether it would trust it.

Apple's daemons (dataaccessd, accountsd, CalendarAgent) sometimes connect without SNI, so
on a shared IP:port they receive the server's *default* certificate. The only setup that
works for them is one certificate per IP:port, valid for the name the user typed. The
handshake is done twice, without and with SNI, and the two certificates compared.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import warnings
from dataclasses import dataclass

from cryptography import x509

from caldav_gateway.doctor.report import Check, failed, passed
from caldav_gateway.doctor.target import Target
from edgeward import pki

MIN_DAYS_LEFT = 14
_OLD_VERSIONS = {"SSLv3", "TLSv1", "TLSv1.1"}


@dataclass(frozen=True)
class TLSFacts:
    """What the handshake without SNI established; ``trusted`` gates sending the password."""

    checks: list[Check]
    trusted: bool


def names_in(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [
        *san.get_values_for_type(x509.DNSName),
        *map(str, san.get_values_for_type(x509.IPAddress)),
    ]


def covers(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching on subjectAltName only (Apple ignores the common name)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    if ip is not None:
        return ip in san.get_values_for_type(x509.IPAddress)
    wanted = host.lower().rstrip(".")
    for name in san.get_values_for_type(x509.DNSName):
        pattern = name.lower().rstrip(".")
        if pattern == wanted:
            return True
        # A wildcard stands for exactly one left-most label.
        if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _handshake_without_sni(target: Target, ctx: ssl.SSLContext) -> None:
    """One TLS handshake with ``target``, sending no server name; raises what it meets."""
    with (
        socket.create_connection((target.host, target.port), timeout=target.timeout) as raw,
        ctx.wrap_socket(raw, server_hostname=None),
    ):
        pass


def _verify_chain(target: Target) -> str | None:
    """``None`` if the chain served without SNI verifies against the trust store, else why."""
    ctx = target.verifying_context()
    ctx.check_hostname = False  # the name is matched by covers(), which also handles no-SNI
    try:
        _handshake_without_sni(target, ctx)
        return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc.reason or exc)
    except (OSError, ssl.SSLError) as exc:
        return f"handshake failed ({exc})"


def _old_protocol_accepted(target: Target) -> bool | None:
    """Does the server still complete a TLS 1.0/1.1 handshake? ``None``: cannot tell here."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            # Deprecated on purpose: offering only the old versions is the whole test.
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    try:
        _handshake_without_sni(target, ctx)
        return True
    except ssl.SSLError as exc:
        # The local OpenSSL may refuse to even offer TLS 1.1: that proves nothing.
        return None if "NO_PROTOCOLS_AVAILABLE" in str(exc).upper() else False
    except OSError:
        return False


def _describe(cert: x509.Certificate) -> str:
    names = ", ".join(names_in(cert)) or "no subjectAltName"
    return f"[{names}], fingerprint {pki.fingerprint(cert)[:23]}…"


def check_tls(target: Target) -> TLSFacts:
    host = target.host
    if not target.tls:
        return TLSFacts(
            [
                failed(
                    "tls.enabled",
                    "TLS",
                    f"{target.url} is plain HTTP",
                    "serve CalDAV over https (caldav-gateway serve --cert/--key): Apple clients "
                    "refuse to send Basic credentials over plain HTTP",
                )
            ],
            trusted=False,
        )
    try:
        cert, version = pki.served_certificate(host, target.port, timeout=target.timeout)
    except (OSError, ssl.SSLError) as exc:
        return TLSFacts(
            [
                failed(
                    "tls.handshake",
                    "TLS handshake without SNI",
                    f"no TLS handshake with {host}:{target.port} ({exc})",
                    "check that the gateway listens on this address and port and serves TLS",
                )
            ],
            trusted=False,
        )
    problem = _verify_chain(target)
    name_ok = covers(cert, host)
    checks = [
        _no_sni_check(target, cert, problem, name_ok),
        _sni_check(target, cert),
        _expiry_check(cert),
        _version_check(target, version),
    ]
    return TLSFacts(checks, trusted=problem is None and name_ok)


def _no_sni_check(
    target: Target, cert: x509.Certificate, problem: str | None, name_ok: bool
) -> Check:
    """The certificate a client without SNI gets: valid for the host, trusted."""
    host = target.host
    title = "certificate without SNI"
    if problem is None and name_ok:
        return passed("tls.no-sni", title, f"valid for {host}: {_describe(cert)}")
    if not name_ok:
        return failed(
            "tls.no-sni",
            title,
            f"served {_describe(cert)}, not valid for {host!r}",
            f"give this IP:port one certificate whose subjectAltName includes {host} "
            "(caldav-gateway serve --cert): clients without SNI get the default certificate",
        )
    if "expired" in (problem or ""):
        fix = "renew the certificate; the gateway reloads --cert/--key when the files change"
    elif target.ca:
        fix = f"check that {target.ca} is the CA that signed the certificate, and that --cert "
        fix += "holds the full chain (leaf then intermediates)"
    else:
        fix = "serve the full chain (leaf then intermediates) in --cert; with a private CA "
        fix += "(e.g. make run's var/), pass --ca FILE"
    return failed("tls.no-sni", title, f"not trusted: {problem}", fix)


def _sni_check(target: Target, cert: x509.Certificate) -> Check:
    """With SNI the same certificate as without (clients differ in sending it)."""
    host = target.host
    title = "same certificate with SNI"
    try:
        ipaddress.ip_address(host)
        return passed("tls.sni", title, f"{host} is an address: no SNI exists")
    except ValueError:
        pass
    try:
        with_sni, _ = pki.served_certificate(
            host, target.port, server_name=host, timeout=target.timeout
        )
    except (OSError, ssl.SSLError) as exc:
        return failed(
            "tls.sni",
            title,
            f"handshake with SNI {host!r} failed ({exc})",
            "serve the same certificate whatever the SNI",
        )
    if with_sni == cert:
        return passed("tls.sni", title, "identical")
    return failed(
        "tls.sni",
        title,
        f"with SNI {_describe(with_sni)}; without {_describe(cert)}",
        "this IP:port picks certificates by SNI: dedicate it to CalDAV with one "
        "certificate so clients with and without SNI agree",
    )


def _expiry_check(cert: x509.Certificate) -> Check:
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    if left > dt.timedelta(days=MIN_DAYS_LEFT):
        return passed("tls.expiry", "expiry", f"{left.days} days left (until {until})")
    state = "expired" if left.total_seconds() <= 0 else f"{left.days} days left"
    return failed(
        "tls.expiry",
        "expiry",
        f"{state} (not after {until})",
        f"renew the certificate (more than {MIN_DAYS_LEFT} days must remain); the "
        "gateway reloads --cert/--key when the files change",
    )


def _version_check(target: Target, version: str) -> Check:
    old = _old_protocol_accepted(target)
    if version in _OLD_VERSIONS or old:
        return failed(
            "tls.version",
            "TLS 1.2 or later",
            f"negotiated {version}" + ("; TLS 1.0/1.1 still accepted" if old else ""),
            "allow TLS 1.2 and 1.3 only (the gateway's default)",
        )
    note = "" if old is False else " (older versions not testable from this client)"
    return passed("tls.version", "TLS 1.2 or later", f"negotiated {version}{note}")
