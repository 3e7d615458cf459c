"""Which printers a renewal concerns (the hook contracts themselves: ``edgeward.acme``).

A printer is concerned when its ``key``, ``cert`` or ``chain`` is one of the renewed files
(same path, or the same file through certbot's ``live/`` → ``archive/`` symlinks, or a file
in the certbot lineage folder), or when one of its ``domains`` is a renewed domain (a
renewed ``*.example.org`` covers ``printer.example.org``, one label deep, as in TLS).
"""

from __future__ import annotations

import os

from edgeward.acme import (
    SOURCES,
    HookError,
    Renewal,
    Source,
    covers,
    renewal_from,
    same_file,
)
from printer_sync.config import Config, PrinterConfig

__all__ = [
    "SOURCES",
    "HookError",
    "Renewal",
    "Source",
    "concerns",
    "covers",
    "printers_for",
    "renewal_from",
]


def concerns(printer: PrinterConfig, renewal: Renewal) -> str | None:
    """Why ``renewal`` concerns ``printer`` (a short reason), or None."""
    mine = [printer.key, printer.cert, *([printer.chain] if printer.chain else [])]
    for path in mine:
        for renewed in renewal.files:
            if same_file(path, renewed):
                return f"uses {renewed}"
        if renewal.lineage is not None and os.path.normpath(path.parent) == os.path.normpath(
            renewal.lineage
        ):
            return f"uses {path} in {renewal.lineage}"
    for name in printer.domains:
        for renewed_domain in renewal.domains:
            if covers(renewed_domain, name):
                return f"names {name} ({renewed_domain} renewed)"
    return None


def printers_for(config: Config, renewal: Renewal) -> list[tuple[PrinterConfig, str]]:
    """The printers ``renewal`` concerns, in configuration order, with the reason."""
    out = []
    for p in config.printers:
        reason = concerns(p, renewal)
        if reason is not None:
            out.append((p, reason))
    return out
