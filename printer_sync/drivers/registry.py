"""Drivers by name, as a config's ``driver`` key picks them (Radicale's ``type`` habit).

``driver = "auto"`` asks the printer over SNMP (:mod:`printer_sync.identify`) on each
push; when it cannot tell, the push fails with ``unknown_driver`` rather than guessing.
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
    from printer_sync import identify  # pysnmp is only needed for 'auto'

    try:
        found = await identify.identify(printer.host, printer.snmp_community)
    except Exception as exc:  # SNMP timeouts, refusals: all mean "could not tell"
        raise PushError(
            ErrorKind.UNKNOWN_DRIVER,
            f"driver = 'auto': SNMP did not identify {printer.host} ({exc}); "
            "set driver = 'epson' or check the community",
        ) from None
    if found.driver is None:
        raise PushError(ErrorKind.UNKNOWN_DRIVER, f"driver = 'auto': {found.reason}")
    return get_driver(found.driver)
