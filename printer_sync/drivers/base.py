"""The contract every printer driver fulfils (acme.sh's one-file-per-device habit).

A driver speaks one web UI. It knows the paths and form fields, recognises the
printer's answers and turns them into :class:`~printer_sync.errors.PushError` kinds; it
never decides whether a push succeeded: :mod:`printer_sync.push` verifies that by the
fingerprint the printer serves afterwards.

Lifecycle, driven by ``push``::

    driver = DriverClass(printer, client)     # client: httpx.AsyncClient on printer.url
    await driver.login()
    st = await driver.status()                # which certificate the printer uses
    await driver.import_ca(cert)               # for each CA not yet in the store
    reboots = await driver.upload_chain(bundle)
    ...wait for the reboot...
    if not st.uses_ca_signed: reboots = await driver.use_ca_signed()
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

import httpx
from cryptography import x509

from printer_sync.config import PrinterConfig
from printer_sync.validate import Bundle, Limits


@dataclass(frozen=True)
class DriverStatus:
    uses_ca_signed: bool  # False: the printer serves its own self-signed certificate
    has_ca_signed: bool  # a CA-signed certificate is installed (in use or not)
    ca_fingerprints: frozenset[str] = frozenset()  # CA store, if the driver can read it


class Driver(abc.ABC):
    name: ClassVar[str]
    limits: ClassVar[Limits]

    def __init__(self, printer: PrinterConfig, client: httpx.AsyncClient) -> None:
        self.printer = printer
        self.client = client

    @abc.abstractmethod
    async def login(self) -> None:
        """Open an administrator session (raises wrong_password, rate_limited...)."""

    @abc.abstractmethod
    async def status(self) -> DriverStatus:
        """Which certificate the printer uses, and what its CA store holds."""

    @abc.abstractmethod
    async def upload_chain(self, bundle: Bundle) -> bool:
        """Upload key + leaf + chain; True when the printer now reboots."""

    @abc.abstractmethod
    async def import_ca(self, cert: x509.Certificate) -> bool:
        """Import one CA certificate into the printer's store; True when it reboots."""

    @abc.abstractmethod
    async def use_ca_signed(self) -> bool:
        """Switch from the self-signed to the CA-signed certificate; True when it reboots."""
