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

from edgeward.pki import fingerprint, served_certificate
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
    timeout: float | None = None,  # noqa: ASYNC109 (a socket timeout: the handshake runs in a thread)
) -> Served:
    """The printer's certificate, fetched by IP without SNI (as the printer's clients do).

    Raises :class:`PushError` ``unreachable`` when nothing answers TLS there.
    """
    try:
        cert, version = await asyncio.to_thread(
            served_certificate, printer.host, printer.port, timeout=timeout or printer.timeout
        )
    except (OSError, ssl.SSLError) as exc:
        raise PushError(
            ErrorKind.UNREACHABLE, f"no TLS answer from {printer.host}:{printer.port} ({exc})"
        ) from None
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
    certificate whose key we hold is trustworthy whatever the pin says.
    """
    if printer.tls != "pin":
        return None
    pin = history.pin(printer.name)
    if served_fp == ours:
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
