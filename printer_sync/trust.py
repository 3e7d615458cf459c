"""Whether the certificate a printer serves is the one we expect.

Printers start with a self-signed certificate, so ``tls = "pin"`` trusts the first
fingerprint it sees (trust on first use) and from then on only the pinned one, plus the
fingerprint we pushed ourselves. A different fingerprint means the printer was replaced,
reset, or someone is in between: refuse, and say how to re-pin after checking.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from dataclasses import dataclass

from cryptography import x509

from edgeward.pki import fingerprint
from printer_sync.config import PrinterConfig
from printer_sync.errors import ErrorKind, PushError
from printer_sync.history import History


@dataclass(frozen=True)
class Served:
    """What a TLS handshake without SNI showed."""

    cert: x509.Certificate
    fingerprint: str
    tls_version: str

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self.cert.issuer.rfc4514_string()

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    @property
    def self_signed(self) -> bool:
        return self.cert.subject == self.cert.issuer


async def fetch_served(
    printer: PrinterConfig,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 (one deadline for connect and handshake)
) -> Served:
    """The printer's certificate, fetched by IP without SNI (as the printer's clients do).

    The connection and handshake run on the event loop under one deadline (a printer that
    drips its handshake a byte at a time cannot hold a thread or the caller past it).
    Raises :class:`PushError` ``unreachable`` when nothing answers TLS there in time.
    """
    limit = timeout or printer.timeout
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # this reports what is served; the pin is checked after
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(
                printer.host,
                printer.port,
                ssl=ctx,
                server_hostname="",  # "": no SNI
            )
        tls = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        if der is None:
            raise ssl.SSLError("no certificate in the handshake")
        cert = x509.load_der_x509_certificate(der)
        version = tls.version() or "unknown"
    except (OSError, ssl.SSLError, ValueError) as exc:  # TimeoutError is an OSError
        reason = f"no answer within {limit:g} s" if isinstance(exc, TimeoutError) else str(exc)
        raise PushError(
            ErrorKind.UNREACHABLE, f"no TLS answer from {printer.host}:{printer.port} ({reason})"
        ) from None
    finally:
        if writer is not None:
            writer.transport.abort()  # no close_notify exchange with a printer that may stall
    return Served(cert, fingerprint(cert), version)


def repin_hint(printer: PrinterConfig, config_path: str = "FILE") -> str:
    return (
        "check the fingerprint on the printer itself (its panel or a browser on a trusted "
        "network), then accept it with: printer-sync push "
        f"{printer.name} --repin FINGERPRINT --config {config_path}"
    )


def check_pin(
    printer: PrinterConfig,
    history: History,
    served_fp: str,
    *,
    ours: str | None = None,
    config_path: str = "FILE",
    record: bool = True,
) -> str | None:
    """Apply ``tls = "pin"``; return the pin in force (None in other modes).

    ``ours`` is the fingerprint of the local certificate: a printer serving the
    certificate whose key we hold is trustworthy whatever the pin says, and so is one
    serving a certificate one of our own pushes carried (a push interrupted during the
    reboot leaves the pin on the old fingerprint while the printer comes back with ours).
    """
    if printer.tls != "pin":
        return None
    pin = history.pin(printer.name)
    if served_fp == ours or (
        pin is not None and pin.fingerprint != served_fp and history.pushed(printer.name, served_fp)
    ):
        if record and (pin is None or pin.fingerprint != served_fp):
            history.set_pin(printer.name, served_fp, "ours")
        return served_fp
    if pin is None:
        if record:
            history.set_pin(printer.name, served_fp, "first-use")
        return served_fp
    if pin.fingerprint != served_fp:
        raise PushError(
            ErrorKind.PIN_CHANGED,
            f"{printer.name} serves a certificate with fingerprint {served_fp}, not the pinned "
            f"{pin.fingerprint}: the printer was replaced or reset, or something is "
            f"intercepting the connection; nothing was sent. If the change is expected, "
            + repin_hint(printer, config_path),
        )
    return pin.fingerprint
