"""QR codes: PNG for pages, half blocks for terminals (segno: pure Python, no Pillow)."""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Sequence
from typing import Final

import segno

from edgeward import qrmatrix

# Any of the eight masks gives a valid code (ISO/IEC 18004 7.8.2); the search over all
# eight only lowers a readability penalty and costs ~4/5 of drawing a code in pure Python
# (a first render of 1,000 devices: ~50 s of CPU). Mask 0 (checkerboard) decodes everywhere
# the others do (zbarimg decodes every rendered code in the tests).
MASK: Final = 0


def png(text: str, *, scale: int = 6, border: int = 4) -> bytes:
    # Error correction M: a config (~300 bytes) still fits a version phones read at arm's
    # length; segno raises the level by itself when the version allows it for free.
    return _png(matrix(text), scale=scale, border=border)


def matrix(text: str) -> tuple[str, ...]:
    """The modules of ``text``'s code, one string a row, "1" dark: what segno draws with
    level M, no boost and :data:`MASK` (:mod:`edgeward.qrmatrix` draws byte-mode texts,
    every config and link, ~15 times faster; segno the rest)."""
    symbol = qrmatrix.encode(text, MASK)
    if symbol is not None:
        return symbol.rows
    code = segno.make_qr(text, error="m", boost_error=False, mask=MASK)
    return tuple("".join("1" if m & 1 else "0" for m in row) for row in code.matrix)


def _png(rows: Sequence[str], *, scale: int, border: int) -> bytes:
    """A 1-bit greyscale PNG of ``rows`` (dark modules black): segno's writer builds it
    pixel by pixel in Python (~60 ms a code); here a row is a few integer operations."""
    size = (len(rows) + 2 * border) * scale
    stride = (size + 7) // 8
    spread = _spread(scale)
    pad = -len(rows[0]) % 8  # light modules that round a row up to whole bytes
    quiet = border * scale + -size % 8  # light pixels right of the code, PNG padding too
    left = ((1 << border * scale) - 1) << (len(rows[0]) * scale + quiet)  # light pixels
    right = (1 << quiet) - 1
    lines = []
    for row in rows:
        modules = int(row + "0" * pad, 2).to_bytes((len(row) + pad) // 8, "big")
        pixels = int.from_bytes(b"".join(map(spread.__getitem__, modules)), "big")
        line = left | (pixels >> pad * scale) << quiet | right
        lines.append(b"\0" + line.to_bytes(stride, "big"))
    blank = b"\0" + ((1 << 8 * stride) - 1).to_bytes(stride, "big")
    raw = blank * (border * scale) + b"".join(r * scale for r in lines) + blank * (border * scale)
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        # Level 1: ~0.1 ms against level 6's ~0.8 ms (most of drawing a code), for a PNG of
        # ~2.9 KB instead of ~2.1 KB: a first render of 1,000 devices draws 1,000 of them.
        + _chunk(b"IDAT", zlib.compress(raw, 1))
        + _chunk(b"IEND", b"")
    )


@functools.cache
def _spread(scale: int) -> tuple[bytes, ...]:
    """For each byte of 8 modules (1 dark), its ``8 * scale`` pixels (0 black)."""
    out = []
    for byte in range(256):
        bits = "".join(("0" if byte >> (7 - i) & 1 else "1") * scale for i in range(8))
        out.append(int(bits, 2).to_bytes(scale, "big"))
    return tuple(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def terminal(text: str) -> str:
    """The QR code drawn with half-block characters for a terminal."""
    code = segno.make_qr(text, error="m")
    matrix = [list(row) for row in code.matrix]
    border = 2
    size = len(matrix)
    full = [[0] * (size + 2 * border) for _ in range(border)]
    rows = full + [[0] * border + r + [0] * border for r in matrix] + [list(x) for x in full]
    if len(rows) % 2:
        rows.append([0] * (size + 2 * border))
    # Dark modules are drawn as spaces on a light background, so the code reads on dark
    # terminals too: upper/lower half blocks stand for the light modules.
    chars = {(0, 0): "█", (0, 1): "▀", (1, 0): "▄", (1, 1): " "}
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        lines.append(
            "".join(chars[(bool(a) * 1, bool(b) * 1)] for a, b in zip(top, bottom, strict=True))
        )
    return "\n".join(lines) + "\n"
