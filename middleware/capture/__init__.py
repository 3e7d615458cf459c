"""Packet captures as a ``dpi-report`` input: pcap/pcapng (also gzipped) → requests.

- :mod:`.files` — recognise a capture by its magic bytes, read its frames (dpkt);
- :mod:`.packets` — a frame → its TCP segment (Ethernet/VLAN, Linux cooked v1/v2, raw IP;
  IPv4/IPv6), and the TCP checksum check;
- :mod:`.reassembly` — one direction of a connection → its bytes in order, once;
- :mod:`.proxy` — the PROXY-protocol header (v1 text, v2 binary);
- :mod:`.http` — a client's bytes → HTTP/1.x request heads;
- :mod:`.scan` — all of it over a file: request counts per client, corrupted requests
  with what the capture shows about them (:class:`~.scan.Evidence`).
"""

from middleware.capture.files import CaptureError, sniff
from middleware.capture.scan import (
    CaptureEvent,
    CaptureResult,
    CaptureStats,
    Evidence,
    read_capture,
)

__all__ = [
    "CaptureError",
    "CaptureEvent",
    "CaptureResult",
    "CaptureStats",
    "Evidence",
    "read_capture",
    "sniff",
]
