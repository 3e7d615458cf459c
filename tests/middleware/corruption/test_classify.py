"""The classifier: each kind, raw and percent-decoded, offsets, evidence; clean stays clean."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.corruption.classify import KINDS, Finding, classify, has_markers

PRINTABLE = bytes(range(0x20, 0x7F)).replace(b"%", b"")


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        # the seed incident: two characters replaced by 0x80 0x01 / 0x80 0x04, raw (nginx log)
        (
            b"/img/ab\x80\x01de.png",
            Finding("dpi_signature", 7, b"/img/ab\x80\x01de.png"[:15].hex(), False),
        ),
        (b"/x\x80\x04", Finding("dpi_signature", 2, b"/x\x80\x04".hex(), False)),
        # ... and percent-encoded (what reaches the ASGI app)
        (
            b"/img/ab%80%01de.png",
            Finding("dpi_signature", 7, b"/img/ab\x80\x01de.png"[:15].hex(), True),
        ),
        (b"/a%80%04", Finding("dpi_signature", 2, b"/a\x80\x04".hex(), True)),
        # dpi_signature beats control_bytes at an earlier offset: it is the stronger proof
        (b"/\x01/\x80\x01", Finding("dpi_signature", 3, b"/\x01/\x80\x01".hex(), False)),
        # not the seed pair, but 0x02 is a control byte, checked before UTF-8 decoding
        (b"/a\x80\x02", Finding("control_bytes", 3, b"/a\x80\x02".hex(), False)),
        (b"/a\x80b", Finding("invalid_utf8", 2, b"/a\x80b".hex(), False)),
        (b"/a\x01b", Finding("control_bytes", 2, b"/a\x01b".hex(), False)),
        (b"/a\x7f", Finding("control_bytes", 2, b"/a\x7f".hex(), False)),
        (b"/a\nb", Finding("control_bytes", 2, b"/a\nb".hex(), False)),
        (b"/a%00b", Finding("control_bytes", 2, b"/a\x00b".hex(), True)),
        (b"/a%7F", Finding("control_bytes", 2, b"/a\x7f".hex(), True)),
        (b"/caf\xe9", Finding("invalid_utf8", 4, b"/caf\xe9".hex(), False)),  # Latin-1 é
        (b"/caf%E9", Finding("invalid_utf8", 4, b"/caf\xe9".hex(), True)),
        (b"/\xc3", Finding("invalid_utf8", 1, b"/\xc3".hex(), False)),  # truncated sequence
        (b"/\xed\xa0\x80", Finding("invalid_utf8", 1, b"/\xed\xa0\x80".hex(), False)),  # surrogate
    ],
)
def test_findings(data: bytes, expect: Finding) -> None:
    assert classify(data) == expect
    assert has_markers(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"/",
        b"/api/v1/users/12345/orders?page=2&sort=desc",
        b"/caf\xc3\xa9",  # raw valid UTF-8
        b"/caf%C3%A9",  # encoded valid UTF-8
        b"/search?q=%E2%82%AC+100",  # euro sign
        b"/form?text=line1%0D%0Aline2%09tab",  # GET forms encode CR, LF, tab legitimately
        b"/a%2Fb%20c",
        b"/100%",  # a lone percent stays literal
        b"/%zz%4",
        b"session=abc; theme=dark",  # a Cookie value
        b"https://example.org/page?x=1",  # a Referer value
    ],
)
def test_clean(data: bytes) -> None:
    assert classify(data) is None
    assert not has_markers(data)


def test_the_evidence_window_is_eight_bytes_each_side() -> None:
    data = b"/0123456789abcdef\x80\x01ghijklmnopqrstuvwxyz"
    finding = classify(data)
    assert finding is not None and finding.offset == 17
    assert bytes.fromhex(finding.evidence_hex) == b"89abcdef\x80\x01ghijkl"


def test_kinds_are_the_documented_three() -> None:
    assert set(KINDS) == {"dpi_signature", "control_bytes", "invalid_utf8"}


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.binary(max_size=64).map(lambda b: bytes(c for c in b if c in PRINTABLE)))
def test_printable_ascii_without_percent_is_always_clean(data: bytes) -> None:
    assert classify(data) is None


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_any_percent_encoded_text_without_controls_is_clean(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # lone surrogates are not text a browser sends
    if any((c < 0x20 and c not in (9, 10, 13)) or c == 0x7F for c in raw):
        return
    assert classify(quote_from_bytes(raw).encode("ascii")) is None


@settings(max_examples=200)
@given(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    st.sampled_from([b"\x80\x01", b"\x80\x04"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    st.booleans(),
)
def test_the_seed_pattern_is_found_at_its_offset(
    before: str, pair: bytes, after: str, encode: bool
) -> None:
    head = before.replace("%", "").encode()
    tail = after.replace("%", "").encode()
    data = head + (quote_from_bytes(pair).encode() if encode else pair) + tail
    finding = classify(data)
    assert finding is not None
    assert finding.kind == "dpi_signature"
    assert finding.offset == len(head)
    assert finding.decoded is encode
    assert pair.hex() in finding.evidence_hex


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_never_raises_and_findings_point_into_the_data(data: bytes) -> None:
    finding = classify(data)
    if finding is None:
        return
    assert finding.kind in KINDS
    assert finding.offset >= 0
    evidence = bytes.fromhex(finding.evidence_hex)
    assert 1 <= len(evidence) <= 16
