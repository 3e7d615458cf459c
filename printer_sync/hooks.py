"""Which printers a renewal concerns (the hook contracts themselves: ``edgeward.acme``).

A printer is concerned when its ``key``, ``cert`` or ``chain`` is one of the renewed files
(same path, or the same file through certbot's ``live/`` → ``archive/`` symlinks, or a file
in the certbot lineage folder), or when one of its ``domains`` is a renewed domain (a
renewed ``*.example.org`` covers ``printer.example.org``, one label deep, as in TLS).
"""

from __future__ import annotations

from edgeward.acme import (
    SOURCES,
    HookError,
    Renewal,
    Source,
    covers,
    renewal_from,
    uses_renewed_files,
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
    reason = uses_renewed_files(mine, renewal)
    if reason is not None:
        return reason
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
