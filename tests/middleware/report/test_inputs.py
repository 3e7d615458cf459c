"""dpi-report's inputs: any bytes are read without a crash; unreadable files are one error."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.report.inputs import Collected, InputError, read_file, sniff

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
        stats = read_file(path, into)
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
