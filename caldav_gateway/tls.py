"""One certificate for every client, with or without SNI, reloaded when its files change.

uvicorn is given one server context for the life of the process. Its ``sni_callback``
runs for **every** ClientHello (``server_name`` is ``None`` when the client sent no SNI,
as some Apple daemons do) and points the new connection at the context of the current
certificate pair. A renewal therefore reaches new handshakes only; established
connections keep the context they started with and are never dropped. A new pair is
loaded into a fresh context first: if the files do not parse, the key does not match
the certificate, or the new certificate is expired (or not valid yet), the old context stays
in service and the error is logged and counted.

A passphrase-protected key is refused with a clear error, at start-up and on a reload alike:
without a password callback OpenSSL would prompt for the passphrase on the terminal, from
the event loop's thread, and the server would stop answering.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
from pathlib import Path
from typing import Literal

from cryptography import x509

from caldav_gateway import metrics
from edgeward.logs import get_logger

log = get_logger("caldav_gateway.tls")

TLSVersion = Literal["1.2", "1.3"]
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class CertificateError(ValueError):
    """A certificate/key pair that cannot be served (the message names the files)."""


# OpenSSL's reason codes for the mistakes people make with certificate files, in words.
_REASONS = {
    "KEY_VALUES_MISMATCH": "the private key does not belong to this certificate",
    "NO_START_LINE": "a file is not PEM (no -----BEGIN line)",
    "NO_CERTIFICATE_OR_CRL_FOUND": "no certificate in the certificate file",
    "EE_KEY_TOO_SMALL": "the key is too small for OpenSSL's security level",
    "CA_MD_TOO_WEAK": "the certificate is signed with a digest OpenSSL no longer accepts",
}


def in_words(reason: str) -> str:
    """OpenSSL's reason, said in words when it is a known mistake (the code kept for search)."""
    words = _REASONS.get(reason)
    return f"{words}; OpenSSL: {reason}" if words else reason


class _PassphraseAsked(Exception):
    """OpenSSL asked for a key passphrase (raised by the callback, caught by load_pair)."""


def _refuse_passphrase() -> bytes:
    raise _PassphraseAsked


def validity_problem(leaf: x509.Certificate, now: dt.datetime | None = None) -> str | None:
    """``"expired on …"`` / ``"not valid before …"``, or ``None`` while the leaf is valid."""
    at = now or dt.datetime.now(dt.UTC)
    if leaf.not_valid_after_utc <= at:
        return f"expired on {leaf.not_valid_after_utc.isoformat()}"
    if leaf.not_valid_before_utc > at:
        return f"not valid before {leaf.not_valid_before_utc.isoformat()}"
    return None


def _stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def load_pair(
    cert: Path, key: Path, min_version: TLSVersion = "1.2"
) -> tuple[ssl.SSLContext, x509.Certificate]:
    """A server context for the pair, and the leaf certificate; ``CertificateError`` if unusable."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION
    for path in (cert, key):
        # load_cert_chain's own errors do not say which file is missing.
        try:
            found = path.is_file()
        except OSError as exc:  # a name too long for the file system
            raise CertificateError(f"{path}: {exc.strerror or exc}") from None
        if not found:
            raise CertificateError(f"{path}: file not found")
        if not os.access(path, os.R_OK):
            raise CertificateError(f"{path}: not readable (permission denied)")
    try:
        # The callback runs only for an encrypted key: never let OpenSSL prompt.
        ctx.load_cert_chain(cert, key, password=_refuse_passphrase)
        leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    except _PassphraseAsked:
        raise CertificateError(
            f"{key}: the private key is protected by a passphrase, which the gateway never "
            "asks for; store it without one (openssl pkey -in KEY -out KEY.new, mode 0600)"
        ) from None
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        raise CertificateError(
            f"{cert} / {key}: not a usable certificate and key ({in_words(reason)})"
        ) from None
    except OSError as exc:  # after SSLError, which is an OSError too
        raise CertificateError(f"{cert} / {key}: cannot read ({exc.strerror})") from None
    # The HTTP/1.1 front speaks nothing else.
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx, leaf


class CertificateReloader:
    """Holds the context new handshakes use; :meth:`check` swaps it when the files change."""

    def __init__(self, cert: Path, key: Path, *, min_version: TLSVersion = "1.2") -> None:
        self.cert = cert
        self.key = key
        self.min_version = min_version
        self._stamps = self._read_stamps()
        # The context uvicorn listens with; after a reload it hands each new handshake over
        # to the current one (until then it is the current one: no per-handshake switch).
        self.context, self.leaf = load_pair(cert, key, min_version)
        self.context.sni_callback = self._on_client_hello
        self._current = self.context
        self._publish()

    def _read_stamps(self) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
        try:
            return (_stamp(self.cert), _stamp(self.key))
        except OSError:
            return None

    def _publish(self) -> None:
        not_after = self.leaf.not_valid_after_utc
        metrics.CERT_NOT_AFTER.set(not_after.timestamp())
        if not_after <= dt.datetime.now(dt.UTC):
            # Served anyway: refusing would leave nothing to serve; clients will complain.
            log.error("the certificate in %s expired on %s", self.cert, not_after.isoformat())

    def _on_client_hello(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, base: ssl.SSLContext
    ) -> None:
        if self._current is not base:
            conn.context = self._current
        return None

    def check(self) -> bool:
        """Reload if the files changed; returns True when a new pair went into service."""
        stamps = self._read_stamps()
        if stamps is None or stamps == self._stamps:
            return False
        self._stamps = stamps
        try:
            ctx, leaf = load_pair(self.cert, self.key, self.min_version)
        except CertificateError as exc:
            # Often the certificate is written before the key: the next change retries.
            metrics.CERT_RELOADS.labels("refused").inc()
            log.error("new certificate refused, still serving the old one: %s", exc)
            return False
        problem = validity_problem(leaf)
        if problem is not None:
            # A matching pair, but swapping it in would break every new handshake (a backup
            # restored over the renewed files, a clock-skewed issuer).
            metrics.CERT_RELOADS.labels("expired").inc()
            log.error(
                "new certificate refused, still serving the old one: %s: %s",
                *(self.cert, problem),
            )
            return False
        self._current, self.leaf = ctx, leaf
        metrics.CERT_RELOADS.labels("loaded").inc()
        self._publish()
        log.info(
            "certificate reloaded: %s (not after %s)",
            leaf.subject.rfc4514_string(),
            leaf.not_valid_after_utc.isoformat(),
        )
        return True

    async def watch(self, interval: float) -> None:
        """Poll the files every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.check()
