"""The one classifier both sensors use: is this request data corrupted, and how?

Kinds, most specific first:

- ``dpi_signature`` — a ``0x80`` byte followed by ``0x01`` or ``0x04``: the pattern the
  faulty deep-packet-inspection gear of the seed incident wrote over two characters;
- ``control_bytes`` — a byte below ``0x20`` or ``0x7f`` (never legitimate in a URL);
- ``invalid_utf8`` — bytes ``>= 0x80`` that do not decode as UTF-8.

Data is checked as received and, when it holds ``%``, percent-decoded too (what reaches
an ASGI app is percent-encoded; what nginx logs is raw). In decoded data, tab, line feed
and carriage return are not findings: HTML forms submitted with GET legitimately encode
them (``%0A`` in a textarea's value); raw, they are.

Clean printable ASCII without ``%`` takes a fast path of four C-level calls (``isascii``,
a one-byte ``in`` — an ``int`` needle is a plain ``memchr``, several times cheaper than a
``bytes`` needle — ``decode`` and ``isprintable``), about 0.2 µs for a typical
path; ``bench/corruption.py`` measures it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote_to_bytes

Kind = Literal["dpi_signature", "control_bytes", "invalid_utf8"]
KINDS: Final[tuple[Kind, ...]] = ("dpi_signature", "control_bytes", "invalid_utf8")

_PERCENT: Final = 0x25
_DPI: Final = re.compile(rb"\x80[\x01\x04]")
_CONTROL_RAW: Final = re.compile(rb"[\x00-\x1f\x7f]")
_CONTROL_DECODED: Final = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WINDOW: Final = 8  # evidence bytes kept on each side of the offending offset


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    offset: int  # in the data that was examined (decoded data when ``decoded``)
    evidence_hex: str  # up to 8 bytes either side of ``offset``, as hex
    decoded: bool  # found after percent-decoding


def _scan(data: bytes, control: re.Pattern[bytes]) -> tuple[Kind, int] | None:
    # dpi_signature first: it is the most specific and proves transport damage.
    hit = _DPI.search(data)
    if hit is not None:
        return "dpi_signature", hit.start()
    hit = control.search(data)
    if hit is not None:
        return "control_bytes", hit.start()
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
    if data.isascii() and _PERCENT not in data and data.decode("ascii").isprintable():
        return None  # fast path, inlined: a call costs as much as the checks
    hit = _scan(data, _CONTROL_RAW)
    if hit is not None:
        return _finding(data, hit, decoded=False)
    if _PERCENT not in data:
        return None
    decoded = unquote_to_bytes(data)
    if decoded.isascii() and decoded.decode("ascii").isprintable():
        return None
    hit = _scan(decoded, _CONTROL_DECODED)
    return _finding(decoded, hit, decoded=True) if hit is not None else None


def has_markers(data: bytes) -> bool:
    """Whether ``data`` carries any corruption marker (raw or after percent-decoding)."""
    return classify(data) is not None
