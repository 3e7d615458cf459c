"""The event both sensors hand to the attribution engine.

The ASGI sensor (``source="asgi"``) and the edge sensor ``dpi-watch`` (``source="edge"``)
build one :class:`CorruptionEvent` per corrupted request and call
``Attributor.submit(event)``; nothing on the request path resolves the client's network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["asgi", "edge"]


@dataclass(frozen=True, slots=True)
class CorruptionEvent:
    """One corrupted request, as seen by a sensor.

    ``client`` is the address the sensor attributes the request to (text form, as logged);
    ``evidence_hex`` and ``offset`` come from :class:`middleware.corruption.classify.Finding`;
    ``detail`` says where it was found (``path``, ``query``, ``referer``, ``cookie``,
    ``request_line``...).
    """

    time: float
    source: Source
    kind: str
    client: str
    evidence_hex: str
    offset: int
    detail: str = ""
