"""dpi-report's inputs: any bytes are read without a crash; unreadable files are one error."""

from __future__ import annotations

import gzip
import io
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from middleware.capture.files import format_of
from middleware.corruption.classify import classify
from middleware.edge.fastscan import CombinedScan
from middleware.edge.nginx_log import MalformedLine, parse_combined
from middleware.report import inputs
from middleware.report.build import build_report
from middleware.report.inputs import MAX_TIME, Collected, InputError, event_of, read_file, sniff
from middleware.report.render_html import render_html
from middleware.report.render_json import render_json
from middleware.report.render_text import render_text

LINE = b'8.8.8.8 - - [27/Nov/2026:03:35:15 +0000] "GET /a\\x80\\x01 HTTP/1.1" 400 1 "-" "-"\n'
EVENT = b'{"time": 1.5, "source": "asgi", "kind": "invalid_utf8", "client": "8.8.8.8"}\n'


@settings(max_examples=100)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=120),
            st.just(LINE),
            st.just(EVENT),
            st.just(b'{"remote_addr":"1.2.3.4","request":"GET /\x80\\u0001 H","status":400}\n'),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_any_bytes_are_read_and_every_line_accounted_for(parts: list[bytes], gz: bool) -> None:
    data = b"".join(parts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("in.gz" if gz else "in.log")
        path.write_bytes(gzip.compress(data) if gz else data)
        into = Collected()
        try:
            stats = read_file(path, into)
        except InputError:
            # Only bytes that announce a packet capture may be refused (one clear error,
            # e.g. a pcap header cut short): every other input is read as a log.
            assert format_of(data[:4]) is not None
            return
    assert stats.malformed <= stats.lines
    if stats.kind != "events":
        assert sum(into.clients.values()) == stats.lines - stats.malformed


@pytest.mark.parametrize(
    ("first", "kind"),
    [
        (LINE, "nginx-combined"),
        (EVENT, "events"),
        (b'{"remote_addr": "1.2.3.4"}', "nginx-json"),
        (b"{not json", "nginx-json"),
        (b"", "nginx-combined"),
    ],
)
def test_sniff(first: bytes, kind: str) -> None:
    assert sniff(first) == kind


def test_a_broken_gzip_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "access.log.2.gz"
    bad.write_bytes(gzip.compress(LINE * 1000)[:-40] + b"garbage")
    with pytest.raises(InputError, match=r"access\.log\.2\.gz"):
        read_file(bad, Collected())


def test_corrupt_deflate_data_is_one_clear_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(LINE * 5000))
    data[12:16] = b"\xff\x00\xff\x00"  # the deflate block header: zlib.error, not EOFError
    bad = tmp_path / "access.log.3.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"access\.log\.3\.gz"):
        read_file(bad, Collected())


# -- fuzz: the events-JSONL reader (issue 11 must-show) ----------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.floats(),  # NaN and infinities included: json.dumps writes NaN, Infinity
    st.text(max_size=20),
    st.sampled_from(["inf", "nan", "1e400", "-1", "1795740000", "9" * 400]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT_KEYS = ("time", "source", "kind", "client", "asn", "as_name", "evidence_hex", "offset")
EVENT_LIKE = st.dictionaries(st.sampled_from(EVENT_KEYS), JSON_VALUES, min_size=3)


def _line(value: object) -> bytes:
    try:
        return json.dumps(value).encode("utf-8", "surrogatepass") + b"\n"
    except (ValueError, RecursionError):
        return b"\n"


@settings(max_examples=300, deadline=None)
@given(obj=st.one_of(EVENT_LIKE, JSON_VALUES))
def test_event_of_any_json_value_is_an_event_or_none(obj: object) -> None:
    event = event_of(obj)
    if event is not None:
        assert math.isfinite(event.time) and 0 <= event.time <= MAX_TIME
        assert event.asn is None or 0 <= event.asn < 1 << 32
        assert -(1 << 63) < event.offset < 1 << 63
        for text in (event.client, event.kind, event.origin, event.as_name):
            text.encode("utf-8")  # printable to any output


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            EVENT_LIKE.map(_line),
            JSON_VALUES.map(_line),
            st.just(EVENT),
            st.binary(max_size=60),
            st.just(b"[" * 5000 + b"\n"),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_any_events_file_gives_a_report_or_the_readers_error(parts: list[bytes]) -> None:
    """Read, build and render: the only outcomes are a report or ``InputError``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_bytes(EVENT + b"".join(parts))  # a valid first line: read as events
        into = Collected()
        try:
            stats = read_file(path, into)
        except InputError:
            return
    assert stats.kind == "events" and stats.malformed <= stats.lines
    report = build_report(into, None)
    json.loads(render_json(report))
    render_html(report).encode("utf-8")
    render_text(report, Console(file=io.StringIO(), width=80))


def test_inputs_read_apart_and_absorbed_equal_one_read(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(LINE * 3)
    b.write_bytes(LINE.replace(b"8.8.8.8", b"9.9.9.9") + EVENT.replace(b"1.5", b"2.5"))
    together = Collected()
    for path in (a, b):
        read_file(path, together)
    apart = Collected()
    for path in (a, b):
        one = Collected()
        read_file(path, one)
        apart.absorb(one)
    assert apart.clients == together.clients
    assert apart.corrupted == together.corrupted
    assert apart.inputs == together.inputs
    assert apart.clients[b"8.8.8.8"] == 3


_STDIN_LOG = LINE * 3 + b'9.9.9.9 - - [27/Nov/2026:04:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'


@pytest.mark.parametrize(
    ("data", "kind"),
    [(_STDIN_LOG, "nginx-combined"), (gzip.compress(_STDIN_LOG, mtime=0), "nginx-combined"),
     (b"\n" + EVENT * 2, "events")],
)  # fmt: skip
def test_standard_input_is_read_as_the_same_file_is(tmp_path: Path, data: bytes, kind: str) -> None:
    """``-`` reads a pipe once (a 100M-line log is streamed, never stored): same counts."""
    (tmp_path / "in").write_bytes(data)
    cmd = [sys.executable, "-m", "middleware", "dpi-report", "--json", "--no-progress"]
    piped = subprocess.run([*cmd, "-"], input=data, capture_output=True, timeout=120)
    filed = subprocess.run([*cmd, str(tmp_path / "in")], capture_output=True, timeout=120)
    assert piped.returncode == filed.returncode == 0, piped.stderr
    a, b = json.loads(piped.stdout), json.loads(filed.stdout)
    assert a["inputs"][0]["path"] == "-" and a["inputs"][0]["kind"] == kind
    for doc in (a, b):
        del doc["generated_at"], doc["inputs"][0]["path"]
    assert a == b
    assert a["totals"]["corrupted"] == (3 if kind == "nginx-combined" else 2)


def test_a_block_s_candidates_are_classified_and_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory stays flat: lines that may be corrupted are not kept to the end of a file."""
    held: list[int] = []

    class Watched(CombinedScan):
        def feed(self, chunk: bytes) -> None:
            held.append(len(self.candidates))  # what earlier blocks left behind
            super().feed(chunk)

    monkeypatch.setattr(inputs, "CombinedScan", Watched)
    path = tmp_path / "many.log"
    encoded = b'1.2.3.4 - - [27/Nov/2026:03:35:15 +0000] "GET /caf%C3%A9 HTTP/1.1" 200 1 "-" "-"\n'
    path.write_bytes((encoded * 30_000 + LINE) * 4)  # 4 MB blocks: several of them
    into = Collected()
    stats = read_file(path, into)
    assert (stats.lines, stats.malformed, len(into.corrupted)) == (120_004, 0, 4)
    assert len(held) > 1 and set(held) == {0}


# -- the fast path finds exactly the corrupted requests a line-by-line parse finds --------

_TARGETS = [
    b"/",
    b"/a%20b",  # a clean run
    b"/caf%C3%A9",  # percent-encoded UTF-8: clean
    b"/x%80%01y",  # the seed's damage, percent-encoded
    b"/x%C3/y",  # a lone lead byte
    b"/%e2%82%ac%e2%82",  # valid, then truncated, in one run
    b"/a\\x80\\x01.jpg",  # the seed's damage as nginx logs it
    b"/%7F",
    b"/%00x",
    b"/%25C3%A9",  # an escaped '%': the run is '%25'
    b"/q?%F0%9F%98%80",
]
_REFERERS = [b"-", b"http://x/%80%01", b"http://x/caf%C3%A9", b"http://x/\\x01"]


def _log_line(client: bytes, target: bytes, referer: bytes) -> bytes:
    return (
        client
        + b' - - [27/Nov/2026:03:35:15 +0000] "GET '
        + target
        + b' HTTP/1.1" 200 1 "'
        + referer
        + b'" "ua"\n'
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(
                _log_line,
                st.sampled_from([b"8.8.8.8", b"1.1.1.1", b"2001:db8::5"]),
                st.sampled_from(_TARGETS),
                st.sampled_from(_REFERERS),
            ),
            st.sampled_from([b"garbage\n", LINE[:50] + b"\n"]),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_corrupted_requests_equal_a_line_by_line_parse(lines: list[bytes]) -> None:
    """Percent runs cleared a block at a time, candidates cleared in groups: the corrupted
    requests found are those a parse and :func:`classify` of every line finds."""
    expected = []
    for line in lines:
        try:
            record = parse_combined(line.rstrip(b"\n"))
        except MalformedLine:
            continue
        finding = classify(record.request)
        if finding is not None:
            expected.append((record.client, finding.kind, finding.evidence_hex, finding.offset))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        path.write_bytes(b"".join(lines))
        into = Collected()
        read_file(path, into)
    found = [(c.client, c.kind, c.evidence_hex, c.offset) for c in into.corrupted]
    assert sorted(found) == sorted(expected)
