"""A minimal MaxMind DB writer, enough for GeoLite2-ASN-shaped test files.

Format (MaxMind DB File Format Specification 2.0): a binary search tree of ``node_count``
nodes with two 24-bit records each (a record is a node number, ``node_count`` for "no
data", or ``node_count + 16 + offset`` into the data section), 16 zero bytes, the data
section, then ``\\xab\\xcd\\xefMaxMind.com`` and the metadata map. IPv4 networks live at
``::a.b.c.d/96+n`` in an IPv6 tree.
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path
from typing import Any

_MARKER = b"\xab\xcd\xefMaxMind.com"


class U16(int):
    """An unsigned 16-bit field (the metadata's ``record_size``, ``ip_version``...)."""


class U64(int):
    """An unsigned 64-bit field (``build_epoch``)."""


def _control(type_number: int, size: int) -> bytes:
    if size < 29:
        head, extra = size, b""
    elif size < 29 + 256:
        head, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        head, extra = 30, struct.pack(">H", size - 285)
    else:
        head, extra = 31, struct.pack(">I", size - 65821)[1:]
    if type_number <= 7:
        return bytes([(type_number << 5) | head]) + extra
    return bytes([head, type_number - 7]) + extra


def _uint(type_number: int, value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return _control(type_number, len(raw)) + raw


def encode(value: Any) -> bytes:
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, U16):
        return _uint(5, value)
    if isinstance(value, U64):
        return _uint(9, value)
    if isinstance(value, int):
        return _uint(6, value)
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_asn_mmdb(path: Path, networks: dict[str, tuple[int, str]]) -> None:
    """Write ``{cidr: (asn, organisation)}`` (IPv4 and IPv6) as a GeoLite2-ASN-like file."""
    data = b""
    offsets: dict[tuple[int, str], int] = {}
    entries: list[tuple[int, int, int]] = []  # (prefixlen in the v6 tree, bits, data offset)
    for cidr, record in networks.items():
        if record not in offsets:
            offsets[record] = len(data)
            data += encode(
                {"autonomous_system_number": record[0], "autonomous_system_organization": record[1]}
            )
        net = ipaddress.ip_network(cidr)
        extra = 96 if net.version == 4 else 0
        entries.append((net.prefixlen + extra, int(net.network_address), offsets[record]))
    nodes: list[list[tuple[str, int] | None]] = [[None, None]]
    for plen, bits, offset in sorted(entries):
        node = 0
        for depth in range(plen):
            bit = (bits >> (127 - depth)) & 1
            if depth == plen - 1:
                nodes[node][bit] = ("d", offset)
                break
            child = nodes[node][bit]
            if child is None or child[0] == "d":
                nodes.append([child, child])  # a covering prefix's data flows down both ways
                nodes[node][bit] = ("n", len(nodes) - 1)
                node = len(nodes) - 1
            else:
                node = child[1]
    count = len(nodes)

    def record(ref: tuple[str, int] | None) -> int:
        if ref is None:
            return count
        return ref[1] if ref[0] == "n" else count + 16 + ref[1]

    tree = b"".join(
        record(left).to_bytes(3, "big") + record(right).to_bytes(3, "big") for left, right in nodes
    )
    metadata = encode(
        {
            "binary_format_major_version": U16(2),
            "binary_format_minor_version": U16(0),
            "build_epoch": U64(1_790_000_000),
            "database_type": "GeoLite2-ASN",
            "description": {"en": "edgeward test ASN database"},
            "ip_version": U16(6),
            "languages": ["en"],
            "node_count": count,
            "record_size": U16(24),
        }
    )
    path.write_bytes(tree + b"\0" * 16 + data + _MARKER + metadata)
