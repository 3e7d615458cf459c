"""edgeward middleware: signed URLs, corrupted-traffic sensors, attribution to networks.

Pure ASGI middleware classes (configuration validated once in ``__init__``, non-HTTP
scopes passed through untouched), plus the edge sensor ``dpi-watch`` and ``dpi-report``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public names, imported on first use so that ``python -m middleware dpi-watch`` does not
# load every feature. Add a feature's names here: ``name: module``.
_LAZY: dict[str, str] = {
    "KeyRing": "middleware.signed",
    "sign_url": "middleware.signed",
    "verify_url": "middleware.signed",
    "SignedURLMiddleware": "middleware.signed",
    "CorruptionSensorMiddleware": "middleware.corruption.sensor",
    "classify": "middleware.corruption.classify",
    "Attributor": "middleware.attribution.attributor",
    "CorruptionEvent": "middleware.attribution.events",
    "PrefixTable": "middleware.attribution.prefix_table",
}

if TYPE_CHECKING:
    from middleware.attribution.attributor import Attributor as Attributor
    from middleware.attribution.events import CorruptionEvent as CorruptionEvent
    from middleware.attribution.prefix_table import PrefixTable as PrefixTable
    from middleware.corruption.classify import classify as classify
    from middleware.corruption.sensor import (
        CorruptionSensorMiddleware as CorruptionSensorMiddleware,
    )
    from middleware.signed import KeyRing as KeyRing
    from middleware.signed import SignedURLMiddleware as SignedURLMiddleware
    from middleware.signed import sign_url as sign_url
    from middleware.signed import verify_url as verify_url


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'middleware' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_LAZY)
