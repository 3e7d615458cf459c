"""Drivers by name, as a config's ``driver`` key picks them (Radicale's ``type`` habit).

``driver = "auto"`` is resolved by :mod:`printer_sync.identify` (SNMP) when that module
provides ``async def driver_name(printer: PrinterConfig) -> str``; until then, and when
it cannot tell, ``auto`` is an ``unknown_driver`` error rather than a guess.
"""

from __future__ import annotations

import importlib

from printer_sync.config import PrinterConfig
from printer_sync.drivers.base import Driver
from printer_sync.errors import ErrorKind, PushError

# name → module under printer_sync.drivers holding a ``DRIVER`` class
DRIVERS: dict[str, str] = {"epson": "epson"}


def get_driver(name: str) -> type[Driver]:
    module_name = DRIVERS.get(name)
    if module_name is None:
        known = ", ".join(sorted(DRIVERS))
        raise PushError(ErrorKind.UNKNOWN_DRIVER, f"no driver named {name!r} (known: {known})")
    module = importlib.import_module(f"printer_sync.drivers.{module_name}")
    cls: type[Driver] = module.DRIVER
    return cls


async def resolve_driver(printer: PrinterConfig) -> type[Driver]:
    if printer.driver != "auto":
        return get_driver(printer.driver)
    try:
        identify = importlib.import_module("printer_sync.identify")
    except ModuleNotFoundError:
        identify = None
    finder = getattr(identify, "driver_name", None)
    if finder is None:
        raise PushError(
            ErrorKind.UNKNOWN_DRIVER,
            f"{printer.name}: driver = 'auto' needs 'printer-sync identify'; set driver = 'epson'",
        )
    name = await finder(printer)
    return get_driver(str(name))
