"""QR Code symbols of byte-mode text at error correction level M, with a fixed mask.

segno (pure Python) spends ~9 ms of CPU on each code of a WireGuard config: most of it
placing and masking ~5,000 modules one at a time and running Reed-Solomon one byte at a
time. A first render of 1,000 devices draws 1,000 codes. Here, everything that depends
only on the version (the function patterns, the format and version information, the
order in which data modules are placed, the mask) is computed once per version, and a
code is a few big-integer operations and one C-level gather: ~0.3 ms.

Written from ISO/IEC 18004:2015 (7.4 data encoding, 7.5 error correction, 7.6 the final
sequence, 7.7 placement, 7.8 masking, 7.9 format and 7.10 version information). The
output is the matrix segno draws for the same text, level, mask and version (tested
module for module over every version), so :mod:`edgeward.qr` can use either.

Only what segno would encode in byte mode with ISO-8859-1 is handled (:func:`encode`
returns None for the rest: digits-only and alphanumeric-only texts, Kanji, non-Latin-1
characters), which covers every config and link the suite draws.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from itertools import chain
from typing import Final, NamedTuple

# Table 9, level M: (error correction codewords per block, (blocks, data codewords each),
# ...), versions 1 to 40.
_BLOCKS_M: Final[tuple[tuple[int, tuple[tuple[int, int], ...]], ...]] = (
    (10, ((1, 16),)), (16, ((1, 28),)), (26, ((1, 44),)), (18, ((2, 32),)),
    (24, ((2, 43),)), (16, ((4, 27),)), (18, ((4, 31),)), (22, ((2, 38), (2, 39))),
    (22, ((3, 36), (2, 37))), (26, ((4, 43), (1, 44))), (30, ((1, 50), (4, 51))),
    (22, ((6, 36), (2, 37))), (22, ((8, 37), (1, 38))), (24, ((4, 40), (5, 41))),
    (24, ((5, 41), (5, 42))), (28, ((7, 45), (3, 46))), (28, ((10, 46), (1, 47))),
    (26, ((9, 43), (4, 44))), (26, ((3, 44), (11, 45))), (26, ((3, 41), (13, 42))),
    (26, ((17, 42),)), (28, ((17, 46),)), (28, ((4, 47), (14, 48))),
    (28, ((6, 45), (14, 46))), (28, ((8, 47), (13, 48))), (28, ((19, 46), (4, 47))),
    (28, ((22, 45), (3, 46))), (28, ((3, 45), (23, 46))), (28, ((21, 45), (7, 46))),
    (28, ((19, 47), (10, 48))), (28, ((2, 46), (29, 47))), (28, ((10, 46), (23, 47))),
    (28, ((14, 46), (21, 47))), (28, ((14, 46), (23, 47))), (28, ((12, 47), (26, 48))),
    (28, ((6, 47), (34, 48))), (28, ((29, 46), (14, 47))), (28, ((13, 46), (32, 47))),
    (28, ((40, 47), (7, 48))), (28, ((18, 47), (31, 48))),
)  # fmt: skip

_LEVEL_M: Final = 0b00  # the two error-level bits of the format information (7.9.1)
_FORMAT_POLY: Final = 0x537  # BCH(15,5) generator
_FORMAT_XOR: Final = 0x5412
_VERSION_POLY: Final = 0x1F25  # BCH(18,6) generator
_GF_POLY: Final = 0x11D  # x^8 + x^4 + x^3 + x^2 + 1, the field of the codewords
_PAD: Final = b"\xec\x11"
_MASKS: Final[tuple[Callable[[int, int], bool], ...]] = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
)
# segno picks numeric or alphanumeric mode for such texts: not byte mode (7.4.3, 7.4.4).
_ALPHANUMERIC: Final = re.compile(rb"[0-9A-Z $%*+\-./:]+")


class Symbol(NamedTuple):
    version: int
    rows: tuple[str, ...]  # one string per row, "1" for a dark module


def encode(text: str, mask: int) -> Symbol | None:
    """The smallest level-M symbol of ``text`` in byte mode, masked with ``mask``; None
    when segno would not use byte mode with ISO-8859-1 for it."""
    try:
        data = text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return None
    if data.isdigit() or _ALPHANUMERIC.fullmatch(data) or _kanji(data):
        return None
    version = _version(len(data))
    if version is None:
        return None
    layout = _layout(version, mask)
    codewords = _codewords(data, version)
    bits = (int.from_bytes(codewords, "big") << layout.remainder) ^ layout.mask_bits
    stream = format(bits, f"0{layout.data_modules}b") + "01"  # then light, dark
    flat = "".join(layout.gather(stream))
    n = layout.size
    return Symbol(version, tuple(flat[i : i + n] for i in range(0, n * n, n)))


def _kanji(data: bytes) -> bool:
    """segno's Kanji test: pairs of bytes in the Shift JIS double-byte ranges (7.4.6)."""
    if not data or len(data) % 2:
        return False
    for i in range(0, len(data), 2):
        code = data[i] << 8 | data[i + 1]
        if not (0x8140 <= code <= 0x9FFC or 0xE040 <= code <= 0xEBBF):
            return False
    return True


def _capacity(version: int) -> int:
    """Data codewords of a level-M symbol."""
    return sum(n * k for n, k in _BLOCKS_M[version - 1][1])


def _count_bits(version: int) -> int:
    return 8 if version <= 9 else 16  # byte mode's character count indicator (Table 3)


def _version(length: int) -> int | None:
    for version in range(1, 41):
        if 4 + _count_bits(version) + 8 * length <= 8 * _capacity(version):
            return version
    return None


def _codewords(data: bytes, version: int) -> bytes:
    """Data codewords (mode, count, data, terminator, padding) with their error
    correction, interleaved (7.4.2–7.4.10, 7.6)."""
    count = _count_bits(version)
    capacity = 8 * _capacity(version)
    length = 4 + count + 8 * len(data)
    acc = ((0b0100 << count | len(data)) << 8 * len(data)) | int.from_bytes(data, "big")
    terminator = min(4, capacity - length)
    # Zero bits up to the next codeword boundary; on a boundary already segno adds a whole
    # zero codeword (the spec adds none). Decoders stop at the terminator either way; the
    # same codewords keep the same drawing.
    pad = 8 - (length + terminator) % 8
    acc <<= terminator + pad
    raw = acc.to_bytes((length + terminator + pad) // 8, "big")
    raw += _PAD * ((capacity // 8 - len(raw)) // 2 + 1)
    raw = raw[: capacity // 8]
    ecc_len, groups = _BLOCKS_M[version - 1]
    table = _ecc_table(ecc_len)
    blocks, eccs = [], []
    start = 0
    for count_blocks, size in groups:
        for _ in range(count_blocks):
            block = raw[start : start + size]
            start += size
            blocks.append(block)
            eccs.append(_remainder(block, ecc_len, table))
    # Interleaved column by column; the longer blocks (the second group) have one more.
    short = min(len(b) for b in blocks)
    out = bytes(chain.from_iterable(zip(*blocks, strict=False)))  # up to the shortest
    out += bytes(b[short] for b in blocks if len(b) > short)
    return out + bytes(chain.from_iterable(zip(*eccs, strict=True)))


def _remainder(block: bytes, ecc_len: int, table: tuple[int, ...]) -> bytes:
    """The error correction codewords: the block times x^n modulo the generator,
    with the remainder register held in one integer (n bytes)."""
    shift = 8 * (ecc_len - 1)
    full = (1 << 8 * ecc_len) - 1
    rem = 0
    for byte in block:
        rem = ((rem << 8) & full) ^ table[byte ^ (rem >> shift)]
    return rem.to_bytes(ecc_len, "big")


def _gf_tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    x = 1
    for i in range(255):
        exp[i], log[x] = x, i
        x <<= 1
        if x & 0x100:
            x ^= _GF_POLY
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _gf_tables()


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.cache
def _ecc_table(n: int) -> tuple[int, ...]:
    """For each feedback byte f, f times the generator's coefficients (leading 1
    dropped) packed big-endian into one integer."""
    gen = [1]  # the product of (x - a^i), i < n, highest power first
    for i in range(n):
        nxt = [*gen, 0]
        for j, c in enumerate(gen):
            nxt[j + 1] ^= _mul(c, _EXP[i])
        gen = nxt
    coefficients = gen[1:]
    return tuple(int.from_bytes(bytes(_mul(f, c) for c in coefficients), "big") for f in range(256))


class _Layout(NamedTuple):
    size: int
    data_modules: int
    remainder: int  # modules left after the last codeword (remainder bits, 7.6)
    mask_bits: int  # the mask over the data modules, first placed module highest
    gather: Callable[[str], tuple[str, ...]]  # row-major modules from data + "01"


def _alignment(version: int) -> list[int]:
    """Centre coordinates of the alignment patterns (Annex E)."""
    if version == 1:
        return []
    count = version // 7 + 2
    last = 4 * version + 10
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    return [6, *range(last, 6, -step)[: count - 1][::-1]]


def _bch(value: int, poly: int, bits: int) -> int:
    """``value`` followed by its BCH remainder (7.9.1, 7.10)."""
    rem = value << bits
    top = poly.bit_length() - 1
    for shift in range(rem.bit_length() - 1, top - 1, -1):
        if rem >> shift & 1:
            rem ^= poly << (shift - top)
    return value << bits | rem


@functools.cache
def _layout(version: int, mask: int) -> _Layout:
    size = 17 + 4 * version
    fixed: dict[tuple[int, int], int] = {}  # function modules: 1 dark, 0 light

    def square(top: int, left: int, radius: int) -> None:
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                r, c = top + dr, left + dc
                if 0 <= r < size and 0 <= c < size:
                    ring = max(abs(dr), abs(dc))
                    if radius == 4:  # finder pattern with its separator
                        fixed[r, c] = int(ring not in (2, 4))
                    else:  # alignment pattern
                        fixed[r, c] = int(ring != 1)

    for i in range(size):  # timing patterns
        fixed[6, i] = fixed[i, 6] = int(i % 2 == 0)
    for r, c in ((3, 3), (3, size - 4), (size - 4, 3)):
        square(r, c, 4)
    centres = _alignment(version)
    for r in centres:
        for c in centres:
            if (r, c) not in ((6, 6), (6, centres[-1]), (centres[-1], 6)):
                square(r, c, 2)
    fmt = _bch(_LEVEL_M << 3 | mask, _FORMAT_POLY, 10) ^ _FORMAT_XOR
    for i in range(15):  # bit 0 is the least significant
        bit = fmt >> i & 1
        first = (i, 8) if i < 6 else (i + 1, 8) if i < 8 else (8, 7) if i == 8 else (8, 14 - i)
        fixed[first] = bit
        fixed[(8, size - 1 - i) if i < 8 else (size - 15 + i, 8)] = bit
    fixed[size - 8, 8] = 1  # the dark module
    if version >= 7:
        info = _bch(version, _VERSION_POLY, 12)
        for i in range(18):
            bit = info >> i & 1
            a, b = size - 11 + i % 3, i // 3
            fixed[a, b] = fixed[b, a] = bit
    order: list[tuple[int, int]] = []
    upward = True
    right = size - 1
    while right > 0:
        if right == 6:
            right = 5  # the vertical timing pattern is skipped as a whole column
        rows = range(size - 1, -1, -1) if upward else range(size)
        for r in rows:
            for c in (right, right - 1):
                if (r, c) not in fixed:
                    order.append((r, c))
        upward = not upward
        right -= 2
    ecc_len, groups = _BLOCKS_M[version - 1]
    total = sum(n * (k + ecc_len) for n, k in groups)
    if len(order) // 8 != total:  # pragma: no cover - a wrong table row
        raise AssertionError(f"version {version}: {len(order)} modules for {total} codewords")
    test = _MASKS[mask]
    mask_bits = 0
    for r, c in order:
        mask_bits = mask_bits << 1 | test(r, c)
    n = len(order)
    index = {rc: i for i, rc in enumerate(order)}
    flat = [
        index[r, c] if (r, c) in index else n + fixed[r, c]
        for r in range(size)
        for c in range(size)
    ]
    return _Layout(size, n, n - 8 * total, mask_bits, operator.itemgetter(*flat))
