"""QR codes of the WireGuard client configs: drawn by :mod:`edgeward.qr` (shared)."""

from __future__ import annotations

from edgeward.qr import png, terminal

__all__ = ["png", "terminal"]
