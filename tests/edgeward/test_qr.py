"""edgeward.qr: the PNG writer and the fixed mask, read back by a real decoder (zbarimg)
and compared pixel for pixel with segno's own drawing of the same code."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import segno

from edgeward import qr
from tests.support.tools import require_tool

WG = (
    "[Interface]\nPrivateKey = {k}\nAddress = 10.77.0.{n}/32, fd77::{n}/128\n"
    "DNS = 10.77.0.1, fd77::1\n\n[Peer]\nPublicKey = {k}\nPresharedKey = {k}\n"
    "AllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = vpn.example.org:51820\n"
)

# Texts of different lengths give different versions (symbol widths), so rows whose pixel
# count is not a multiple of 8 (padding) are covered, as are scale 1 and no border.
CASES = [
    ("short", "x", 6, 4),
    ("url", "https://vpn.example.org/l/abcdef?e=1&s=0123456789", 3, 2),
    ("wg-config", WG.format(k="A" * 43 + "=", n=7), 6, 4),
    ("wg-config-scale-1", WG.format(k="B" * 43 + "=", n=250), 1, 0),
    ("utf8", "Wi-Fi café ☕ " * 5, 5, 1),
]


def _pixels(png: bytes) -> list[list[int]]:
    """The 1-bit greyscale pixels of a PNG this module or segno wrote (filters none and up)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat, width = 8, b"", 0
    while i < len(png):
        (length,) = struct.unpack(">I", png[i : i + 4])
        kind, data = png[i + 4 : i + 8], png[i + 8 : i + 8 + length]
        (crc,) = struct.unpack(">I", png[i + 8 + length : i + 12 + length])
        assert crc == zlib.crc32(kind + data)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
            assert (width, depth, colour) == (height, 1, 0)
        elif kind == b"IDAT":
            idat += data
        i += 12 + length
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8 + 1
    rows, prior = [], bytes(stride - 1)
    for r in range(len(raw) // stride):
        filt, line = raw[r * stride], raw[r * stride + 1 : (r + 1) * stride]
        assert filt in (0, 2)  # none (ours), up (segno repeats a row that way)
        if filt == 2:
            line = bytes((a + b) & 0xFF for a, b in zip(line, prior, strict=True))
        prior = line
        bits = "".join(format(b, "08b") for b in line)[:width]
        rows.append([int(c) for c in bits])
    assert len(rows) == width
    return rows


@pytest.mark.parametrize(
    ("text", "scale", "border"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_png_decodes_and_matches_segno(text: str, scale: int, border: int, tmp_path: Path) -> None:
    data = qr.png(text, scale=scale, border=border)
    code = segno.make_qr(text, error="m", boost_error=False, mask=qr.MASK)
    assert code.mask == qr.MASK
    theirs = tmp_path / "segno.png"
    code.save(str(theirs), kind="png", scale=scale, border=border, dark="black", light="white")
    assert _pixels(data) == _pixels(theirs.read_bytes())
    if scale >= 3:  # zbarimg needs a few pixels a module
        zbarimg = require_tool("zbarimg", "zbar-tools")
        path = tmp_path / "code.png"
        path.write_bytes(data)
        p = subprocess.run(
            [zbarimg, "--raw", "-q", str(path)], capture_output=True, timeout=120, check=False
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode("utf-8") == text + "\n"
