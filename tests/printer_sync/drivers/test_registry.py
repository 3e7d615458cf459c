"""Drivers by name: the config's ``driver`` key, and ``auto`` asking the printer by SNMP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from printer_sync.config import PrinterConfig
from printer_sync.drivers.epson import EpsonDriver
from printer_sync.drivers.registry import DRIVERS, get_driver, resolve_driver
from printer_sync.errors import ErrorKind, PushError


@pytest.mark.parametrize(
    ("name", "found", "fragment"),
    [
        ("epson", EpsonDriver, ""),
        ("hp", None, "no driver named 'hp' (known: epson)"),
        ("Epson", None, "no driver named 'Epson'"),  # names are exact, as in the config
        ("", None, "no driver named ''"),
    ],
)
def test_get_driver_table(name: str, found: type | None, fragment: str) -> None:
    if found is not None:
        assert get_driver(name) is found
        return
    with pytest.raises(PushError) as exc:
        get_driver(name)
    assert exc.value.kind is ErrorKind.UNKNOWN_DRIVER
    assert fragment in exc.value.message


def _printer(driver: str) -> PrinterConfig:
    return PrinterConfig(
        name="p", url="https://127.0.0.1:1", key=Path("k"), cert=Path("c"), driver=driver
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_a_named_driver_is_resolved_without_asking_the_printer(name: str) -> None:
    assert asyncio.run(resolve_driver(_printer(name))) is get_driver(name)


def test_auto_without_an_snmp_answer_fails_as_unknown_driver_rather_than_guessing() -> None:
    # Nothing answers SNMP on 127.0.0.1 here: the push must not fall back to a default.
    with pytest.raises(PushError) as exc:
        asyncio.run(resolve_driver(_printer("auto")))
    assert exc.value.kind is ErrorKind.UNKNOWN_DRIVER
    assert "driver = 'auto'" in exc.value.message
