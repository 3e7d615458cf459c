"""QR codes: PNG for pages, half blocks for terminals (segno: pure Python, no Pillow)."""

from __future__ import annotations

import io

import segno


def png(text: str, *, scale: int = 6) -> bytes:
    # Error correction M: a config (~300 bytes) still fits a version phones read at arm's
    # length; segno raises the level by itself when the version allows it for free.
    code = segno.make_qr(text, error="m", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


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
