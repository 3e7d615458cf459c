"""The one classifier both sensors use: is this request data corrupted, and how?

Kinds, most specific first:

- ``dpi_signature`` — a ``0x80`` byte followed by ``0x01`` or ``0x04``: the pattern the
  faulty deep-packet-inspection gear of the seed incident wrote over two characters;
- ``control_bytes`` — a byte below ``0x20`` or ``0x7f`` (never legitimate in a URL);
- ``invalid_utf8`` — bytes ``>= 0x80`` that do not decode as UTF-8.

Data is checked as received and, when it holds ``%``, percent-decoded too (what reaches
an ASGI app is percent-encoded; what nginx logs is raw). Clean printable ASCII takes a
fast path: one C-level ``translate`` and one ``in`` test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote_to_bytes

Kind = Literal["dpi_signature", "control_bytes", "invalid_utf8"]
KINDS: Final[tuple[Kind, ...]] = ("dpi_signature", "control_bytes", "invalid_utf8")

_PRINTABLE: Final = bytes(range(0x20, 0x7F))
_WINDOW: Final = 8  # evidence bytes kept on each side of the offending offset


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    offset: int  # in the data that was examined (decoded data when ``decoded``)
    evidence_hex: str  # up to 8 bytes either side of ``offset``, as hex
    decoded: bool  # found after percent-decoding


def _scan(data: bytes) -> tuple[Kind, int] | None:
    # dpi_signature first: it is the most specific and proves transport damage.
    start = 0
    while (i := data.find(b"\x80", start)) >= 0:
        if i + 1 < len(data) and data[i + 1] in (0x01, 0x04):
            return "dpi_signature", i
        start = i + 1
    for i, b in enumerate(data):
        if b < 0x20 or b == 0x7F:
            return "control_bytes", i
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return "invalid_utf8", exc.start
    return None


def _finding(data: bytes, hit: tuple[Kind, int], decoded: bool) -> Finding:
    kind, offset = hit
    window = data[max(0, offset - _WINDOW) : offset + _WINDOW]
    return Finding(kind, offset, window.hex(), decoded)


def classify(data: bytes) -> Finding | None:
    """The first corruption found in ``data`` (raw, then percent-decoded), or ``None``."""
    if not data.translate(None, _PRINTABLE):
        if b"%" not in data:
            return None  # fast path: printable ASCII with nothing encoded
    else:
        hit = _scan(data)
        if hit is not None:
            return _finding(data, hit, decoded=False)
        if b"%" not in data:
            return None
    decoded = unquote_to_bytes(data)
    if not decoded.translate(None, _PRINTABLE):
        return None
    hit = _scan(decoded)
    return _finding(decoded, hit, decoded=True) if hit is not None else None


def has_markers(data: bytes) -> bool:
    """Whether ``data`` carries any corruption marker (raw or after percent-decoding)."""
    return classify(data) is not None
