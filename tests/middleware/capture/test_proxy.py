"""PROXY protocol headers: v1 text and v2 binary, table-driven and fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from middleware.capture import proxy

V2 = proxy.V2_SIGNATURE


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"PROXY TCP4 198.51.100.9 192.0.2.1 5555 80\r\nGET", (43, "198.51.100.9")),
        (b"PROXY TCP6 2001:db8::9 2001:db8::1 5555 443\r\n", (45, "2001:db8::9")),
        (b"PROXY UNKNOWN\r\nGET", (15, None)),
        (b"PROXY TCP4 2001:db8::9 192.0.2.1 1 2\r\n", None),  # family and address disagree
        (b"PROXY TCP4 not-an-ip 192.0.2.1 1 2\r\n", None),
        (b"PROXY TCP9 1.2.3.4 1.2.3.4 1 2\r\n", None),
        (b"GET / HTTP/1.1\r\n", None),
        (
            V2 + b"\x21\x11\x00\x0c" + bytes([198, 51, 100, 9, 192, 0, 2, 1, 0, 1, 0, 80]),
            (28, "198.51.100.9"),
        ),
        (
            V2 + b"\x21\x21\x00\x24" + bytes(range(1, 17)) + bytes(20),
            (52, "102:304:506:708:90a:b0c:d0e:f10"),
        ),
        (V2 + b"\x20\x00\x00\x00GET", (16, None)),  # LOCAL: the balancer's own check
        (V2 + b"\x21\x31\x00\x04abcd", (20, None)),  # a UNIX socket: no address to use
        (V2 + b"\x11\x11\x00\x00", None),  # version 1 in a v2 header
    ],
)
def test_parse(data: bytes, expected: tuple[int, str | None] | None) -> None:
    assert proxy.parse(data) == expected


@pytest.mark.parametrize(
    "data", [b"PRO", b"PROXY TCP4 1.2.3.4", V2[:7], V2 + b"\x21\x11\x00\x0c\x01"]
)
def test_incomplete(data: bytes) -> None:
    with pytest.raises(proxy.Incomplete):
        proxy.parse(data)


@given(st.one_of(st.binary(max_size=120), st.binary(max_size=60).map(lambda b: V2 + b)))
def test_any_bytes_parse_or_say_incomplete(data: bytes) -> None:
    try:
        result = proxy.parse(data)
    except proxy.Incomplete:
        return
    if result is not None:
        assert 0 < result[0] <= max(len(data), 16 + 0xFFFF)
