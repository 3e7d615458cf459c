"""edgeward.qrmatrix: module for module the symbol segno draws (the plain path), over every
version, every mask and random texts; None for what segno would not put in byte mode."""

from __future__ import annotations

import random

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward import qr, qrmatrix


def segno_symbol(text: str, mask: int) -> tuple[int, tuple[str, ...]]:
    code = segno.make_qr(text, error="m", boost_error=False, mask=mask)
    return code.version, tuple("".join(str(m & 1) for m in row) for row in code.matrix)


def filling(version: int, spare_bits: int, seed: int) -> str:
    """A Latin-1 text whose byte-mode bits leave ``spare_bits`` of ``version``'s
    capacity (0: full; a boundary case for the terminator and padding)."""
    room = 8 * qrmatrix._capacity(version) - 4 - qrmatrix._count_bits(version) - spare_bits
    rnd = random.Random(seed)
    return "".join(rnd.choice("ab=\n/+ ÿé") for _ in range(room // 8))


@pytest.mark.parametrize("version", range(1, 41))
def test_every_version_full_and_with_pad_codewords(version: int) -> None:
    for spare, mask in ((0, 0), (40, version % 8)):  # no room left; pad codewords
        text = filling(version, spare, version)
        symbol = qrmatrix.encode(text, mask)
        assert symbol is not None
        assert (symbol.version, symbol.rows) == segno_symbol(text, mask)


WG = (
    "[Interface]\nPrivateKey = {k}\nAddress = 10.77.0.7/32, fd77::7/128\n"
    "DNS = 10.77.0.1, fd77::1\n\n[Peer]\nPublicKey = {k}\nPresharedKey = {k}\n"
    "Endpoint = vpn.example.org:51820\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 25\n"
)


@pytest.mark.parametrize("mask", range(8))
def test_every_mask(mask: int) -> None:
    assert qrmatrix.encode("", mask) == qrmatrix.Symbol(*segno_symbol("", mask))
    # 343 bytes: the data and terminator end on a codeword boundary (segno's extra zero
    # codeword), the case a full-capacity text never reaches.
    text = WG.format(k="A" * 43 + "=")
    assert len(text) == 343
    symbol = qrmatrix.encode(text, mask)
    assert symbol is not None
    assert (symbol.version, symbol.rows) == segno_symbol(text, mask)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0123456789", "numeric mode"),
        ("HTTPS://VPN.EXAMPLE.ORG/ABC", "alphanumeric mode"),
        ("\x88\x9f", "a Shift JIS Kanji pair: Kanji mode"),
        ("café ☕", "not Latin-1: segno falls back to UTF-8"),
        ("x" * 2332, "too long for version 40-M"),
    ],
)
def test_not_byte_mode_is_left_to_segno(text: str, why: str) -> None:
    assert qrmatrix.encode(text, 0) is None, why


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(max_codepoint=0x2FF), max_size=400), st.integers(0, 7))
def test_random_texts_equal_segno(text: str, mask: int) -> None:
    symbol = qrmatrix.encode(text, mask)
    if symbol is None:
        code = segno.make_qr(text, error="m", boost_error=False, mask=mask)
        latin1 = all(ord(c) < 256 for c in text)
        assert code.mode != "byte" or not latin1  # segno: another mode, or UTF-8 / Shift JIS
    else:
        assert (symbol.version, symbol.rows) == segno_symbol(text, mask)


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=300))
def test_png_fast_path_equals_the_segno_path(text: str) -> None:
    _, rows = segno_symbol(text, qr.MASK)
    assert qr.png(text) == qr._png(rows, scale=6, border=4)
