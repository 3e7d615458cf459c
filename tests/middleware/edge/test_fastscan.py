"""The chunk fast path must count exactly what a line-by-line parse counts."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.edge.fastscan import (
    CombinedScan,
    candidate_lines,
    candidate_lines_reference,
    needs_classify,
    percent_runs,
    suspect_lines,
)
from middleware.edge.nginx_log import MalformedLine, parse_combined
from middleware.edge.realip import RealClient

T = b"[27/Nov/2026:03:35:15 +0000]"


def line(client: bytes, target: bytes, extra: bytes = b"") -> bytes:
    return client + b" - - " + T + b' "GET ' + target + b' HTTP/1.1" 200 3 "-" "ua"' + extra


CLEAN = line(b"8.8.8.8", b"/index.html")
VALID = [
    (b"8.8.8.8", b"/index.html"),
    (b"1.1.1.1", b"/a%20b"),  # percent-encoded but clean
    (b"121.6.1.2", b"/ca\\x80\\x01.jpg"),  # the seed's escapes
    (b"121.6.1.3", b"/x%80%04y"),  # percent-encoded corruption
    (b"2001:db8::5", b"/caf%C3%A9"),  # IPv6 client, valid UTF-8 encoding
]
EXTRA = {"combined": b"", "edgeward_combined": b' "8.8.4.4" "-"'}
BROKEN = [
    b"garbage line",
    b"\xff\xfe raw bytes",
    b"",
    CLEAN[:40],  # truncated
    CLEAN.split(b" 200 ")[0],  # truncated right after a quote
]
FOREIGN = CLEAN + b' "8.8.4.4" "-" "-"'  # valid, but a third format: only in the mixed test


def reference(lines: list[bytes]) -> tuple[Counter[bytes], int, list[bytes]]:
    clients: Counter[bytes] = Counter()
    malformed = 0
    suspicious = []
    for raw in lines:
        try:
            r = parse_combined(raw)
        except MalformedLine:
            malformed += 1
            continue
        clients[r.client.encode()] += 1
        if needs_classify(r.request):
            suspicious.append(raw)
    return clients, malformed, suspicious


def feed(scan: CombinedScan, lines: list[bytes], pieces: int) -> None:
    step = max(1, len(lines) // pieces)
    for i in range(0, len(lines), step):
        scan.feed(b"".join(x + b"\n" for x in lines[i : i + step]))


@settings(max_examples=150)
@given(st.data(), st.sampled_from(sorted(EXTRA)), st.integers(1, 5))
def test_fast_scan_equals_line_by_line(data: st.DataObject, fmt: str, pieces: int) -> None:
    good = st.sampled_from([line(c, t, EXTRA[fmt]) for c, t in VALID])
    lines = data.draw(st.lists(st.one_of(good, good, st.sampled_from(BROKEN)), max_size=300))
    scan = CombinedScan()
    feed(scan, lines, pieces)
    clients, malformed, suspicious = reference(lines)
    assert Counter(scan.take()) == clients
    assert scan.take() == []
    assert scan.malformed == malformed
    assert scan.lines == len(lines)
    assert sorted(scan.candidates) == sorted(suspicious)


@settings(max_examples=100)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([line(c, t, x) for c, t in VALID for x in EXTRA.values()]),
            st.sampled_from([*BROKEN, FOREIGN]),
            st.binary(max_size=60),
        ),
        max_size=300,
    ),
    st.integers(1, 5),
)
def test_mixed_formats_still_account_for_every_line(lines: list[bytes], pieces: int) -> None:
    scan = CombinedScan()
    feed(scan, lines, pieces)
    n = sum(x.count(b"\n") + 1 for x in lines)  # random bytes may hold newlines
    assert scan.lines == n
    assert len(scan.take()) + scan.malformed == n


def test_a_truncated_line_cannot_hide_behind_lines_of_a_longer_format() -> None:
    # Found by hypothesis: three 8-quote lines and a 0-quote fragment make 6 quotes a line.
    scan = CombinedScan()
    scan.feed(CLEAN + b"\n")  # the stream's shape: 6 quotes a line
    edgeward = line(b"10.0.0.5", b"/", b' "8.8.4.4" "-"')
    fragment = line(b"8.8.8.8", b"/cut")[:40]
    scan.feed(b"\n".join([edgeward] * 3 + [fragment]) + b"\n")
    assert (scan.lines, scan.malformed) == (5, 1)
    assert sorted(scan.take()) == [b"10.0.0.5"] * 3 + [b"8.8.8.8"]


def test_a_line_short_of_a_quote_cannot_hide_behind_one_with_a_quote_too_many() -> None:
    # 5 + 7 quotes make 6 a line on average: each line must have its own 6.
    short = CLEAN.replace(b'"-"', b"-", 1) + b'"'  # 5 quotes, still ending in one
    long = line(b"1.1.1.1", b'/a"b')  # 7 quotes
    lines = [CLEAN, short, long, CLEAN]
    scan = CombinedScan()
    scan.feed(b"".join(x + b"\n" for x in lines))
    clients, malformed, _ = reference(lines)
    assert (scan.lines, scan.malformed, Counter(scan.take())) == (4, malformed, clients)
    assert malformed == 2


def test_one_odd_line_does_not_send_the_chunk_down_the_slow_path() -> None:
    lines = [CLEAN] * 5000
    lines[2500] = b"garbage"
    scan = CombinedScan()
    scan.feed(b"\n".join(lines))  # no final newline: completed by feed
    assert (scan.lines, scan.malformed, scan.take().count(b"8.8.8.8")) == (5000, 1, 4999)


def test_trusted_proxy_lines_are_attributed_to_the_forwarded_client() -> None:
    scan = CombinedScan(RealClient(["10.0.0.0/8"]))
    scan.feed(
        line(b"10.0.0.5", b"/", b' "9.9.9.9, 10.0.0.7" "-"')
        + b"\n"
        + line(b"10.0.0.5", b"/x\\x01", b' "-" "1.1.1.1"')
        + b"\n"
        + CLEAN
        + b"\n"
    )
    assert scan.take() == [b"9.9.9.9", b"1.1.1.1", b"8.8.8.8"]
    assert len(scan.candidates) == 1


@pytest.mark.parametrize(
    ("request_line", "suspect"),
    [
        (b"GET / HTTP/1.1", False),
        (b"GET /a%20b%2F HTTP/1.1", False),
        (b"GET /a%7f HTTP/1.1", True),
        (b"GET /a%c3%a9 HTTP/1.1", True),  # may be valid UTF-8: the classifier decides
        (b"GET /a\x80\x01 HTTP/1.1", True),
        (b"GET /a\x01 HTTP/1.1", True),
    ],
)
def test_needs_classify(request_line: bytes, suspect: bool) -> None:
    assert needs_classify(request_line) is suspect


# Bytes that steer the candidate search: both patterns' first bytes, near misses (``\\``
# without ``x``, ``%`` before a clean or short hex pair), and what completes a match.
_PIECES = [
    b"\\",
    b"x",
    b"\\x",
    b"%",
    b"%2",
    b"%20",
    b"%80",
    b"%7f",
    b"%7F",
    b"%0",
    b"G",
    b" ",
    b"a",
]


@settings(max_examples=500)
@given(
    st.lists(
        st.lists(st.one_of(st.sampled_from(_PIECES), st.binary(max_size=4)), max_size=12).map(
            lambda parts: b"".join(parts).replace(b"\n", b"")
        ),
        min_size=1,
        max_size=12,
    )
)
def test_candidate_lines_equal_the_reference(lines: list[bytes]) -> None:
    chunk = b"".join(x + b"\n" for x in lines)
    assert candidate_lines(chunk) == candidate_lines_reference(chunk)


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (CLEAN + b"\n", []),
        (line(b"1.1.1.1", b"/a%20b") + b"\n", []),  # a '%' that starts no match
        (line(b"1.1.1.1", b"/a\\b") + b"\n", []),  # a backslash without 'x'
        (  # escapes first, then encodings, each line once
            b"a%80\n" + b"b\\x01\n" + b"c%20\\x%ff\n",
            [b"b\\x01", b"c%20\\x%ff", b"a%80"],
        ),
    ],
)
def test_candidate_lines(chunk: bytes, expected: list[bytes]) -> None:
    assert candidate_lines(chunk) == expected == candidate_lines_reference(chunk)


_LINES = st.lists(
    st.lists(st.one_of(st.sampled_from(_PIECES), st.binary(max_size=4)), max_size=12).map(
        lambda parts: b"".join(parts).replace(b"\n", b"")
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300)
@given(_LINES)
def test_percent_runs_equal_a_findall(lines: list[bytes]) -> None:
    chunk = b"".join(x + b"\n" for x in lines)
    runs = re.findall(rb"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*", chunk)
    assert percent_runs(chunk) == set(runs)


@settings(max_examples=300)
@given(_LINES, st.booleans())
def test_suspect_lines(lines: list[bytes], clean: bool) -> None:
    """Clean runs leave the escaped lines; otherwise every candidate, in the same order."""
    chunk = b"".join(x + b"\n" for x in lines)
    seen: list[set[bytes]] = []

    def runs_clean(runs: set[bytes]) -> bool:
        seen.append(runs)
        return clean

    escaped = [x for x in lines if b"\\x" in x]
    expected = escaped if clean else candidate_lines(chunk)
    assert suspect_lines(chunk, runs_clean) == expected
    assert seen == [percent_runs(chunk)]


def test_a_scan_with_runs_clean_keeps_only_lines_that_may_be_corrupted() -> None:
    lines = [line(c, t) for c, t in VALID] * 3
    chunk = b"".join(x + b"\n" for x in lines)
    plain, checked = CombinedScan(), CombinedScan(runs_clean=lambda runs: True)
    plain.feed(chunk)
    checked.feed(chunk)
    dirty = CombinedScan(runs_clean=lambda runs: False)
    dirty.feed(chunk)
    assert checked.candidates == [line(b"121.6.1.2", b"/ca\\x80\\x01.jpg")] * 3
    assert dirty.candidates == plain.candidates and len(plain.candidates) == 9
    assert checked.take() == plain.take() == dirty.take()
