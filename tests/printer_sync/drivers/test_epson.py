"""The Epson driver: its named errors, and the per-response TLS pin."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography import x509

from edgeward.pki import make_ca
from edgeward.secrets import Secret
from printer_sync.config import PrinterConfig
from printer_sync.drivers.epson import PATHS, EpsonDriver
from printer_sync.emulator import Emulator
from printer_sync.errors import ErrorKind, PushError
from printer_sync.push import _client
from tests.support.printers import PASSWORD


def test_the_ca_import_paths_are_marked_as_modelled() -> None:
    source = Path(__import__("printer_sync.drivers.epson").drivers.epson.__file__).read_text()
    assert "not publicly" in source and "documented" in source
    assert {"ca_list", "ca_form", "ca_import"} <= set(PATHS)


def _printer(emu: Emulator) -> PrinterConfig:
    return PrinterConfig(
        name="p", url=emu.url, key=Path("k"), cert=Path("c"), timeout=5.0
    ).with_password(Secret(PASSWORD))


async def _call(emu: Emulator, pinned: list[x509.Certificate], what: str) -> None:
    async with _client(_printer(emu), pinned) as client:
        driver = EpsonDriver(_printer(emu), client)
        if what == "login":
            await driver.login()
        elif what == "status-without-login":
            await driver.status()
        elif what == "missing-page":
            await client.get("NOPE")
            await driver._send("GET", "NOPE", during="test")


@pytest.mark.parametrize(
    ("what", "pinned", "kind", "fragment"),
    [
        ("login", False, ErrorKind.PIN_CHANGED, "not the pinned one; nothing was sent"),
        ("status-without-login", True, ErrorKind.UNEXPECTED_ANSWER, "session lost"),
        ("missing-page", True, ErrorKind.UNEXPECTED_ANSWER, "HTTP 404"),
    ],
)
def test_named_errors(
    emulator: Emulator, what: str, pinned: bool, kind: ErrorKind, fragment: str
) -> None:
    other = make_ca("EPSON-impostor").cert
    certs = [emulator.served_certificate()] if pinned else [other]
    with pytest.raises(PushError) as exc:
        asyncio.run(_call(emulator, certs, what))
    assert exc.value.kind is kind and fragment in exc.value.message
    if not pinned:
        # refused in the handshake: the login request (and password) never left
        assert emulator.logins == 0 and emulator.requests == []
