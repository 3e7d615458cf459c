"""An Epson Web Config emulator for tests and the demo (``printer-sync emulate``).

It behaves like the printers the driver was written for (see ``DESIGN.md``): HTTPS with a
self-signed certificate at first, the login form and ``EPSON_COOKIE_SESSION`` cookie, a
fresh single-use ``INPUTT_SETUPTOKEN`` per form load, multipart validation of the chain
import, "Shutting down" followed by real downtime (the listening socket is closed), then
the uploaded certificate; the self-signed → CA-signed switch; the (modelled) CA import;
wrong-password and rate-limit answers. Faults can be switched on for tests.
"""

from printer_sync.emulator.device import FAULTS, Emulator
from printer_sync.emulator.thread import EmulatorThread

__all__ = ["FAULTS", "Emulator", "EmulatorThread"]
