"""nginx log lines → LogRecord: both formats, escapes, bad input, fuzzing."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.edge.nginx_log import (
    MAX_TIME,
    LogRecord,
    MalformedLine,
    parse_combined,
    parse_json,
    parse_time_local,
    sniff_format,
    unescape,
)
from middleware.report.synthetic import _escape

T = b"[27/Nov/2026:03:35:15 +0000]"
EPOCH = 1795750515.0


@pytest.mark.parametrize(
    ("line", "client", "req", "status", "xff", "pp"),
    [
        (
            b'1.2.3.4 - - ' + T + b' "GET / HTTP/1.1" 200 3 "-" "curl/8"',
            "1.2.3.4", b"GET / HTTP/1.1", 200, "", "",
        ),
        (  # the seed's corruption as nginx logs it
            b'121.6.1.2 - - ' + T + b' "GET /media/ca\\x80\\x01.jpg HTTP/1.1" 400 157 "-" "-"',
            "121.6.1.2", b"GET /media/ca\x80\x01.jpg HTTP/1.1", 400, "", "",
        ),
        (  # escaped quote and backslash in the request, lower-case hex accepted too
            b'::1 - - ' + T + b' "GET /a\\x22b\\x5Cc\\x0a HTTP/1.1" 404 0 "-" "-"',
            "::1", b'GET /a"b\\c\n HTTP/1.1', 404, "", "",
        ),
        (  # remote_user with a space, body size "-", CRLF ending
            b'2001:db8::1 - bob smith ' + T + b' "PUT /x HTTP/2.0" 201 - "r" "ua"\r\n',
            "2001:db8::1", b"PUT /x HTTP/2.0", 201, "", "",
        ),
        (  # edgeward_combined: forwarded-for chain and PROXY-protocol address
            b'10.0.0.5 - - ' + T + b' "GET / HTTP/1.1" 200 3 "-" "-" "8.8.8.8, 10.0.0.9" "1.1.1.1"',
            "10.0.0.5", b"GET / HTTP/1.1", 200, "8.8.8.8, 10.0.0.9", "1.1.1.1",
        ),
        (  # Debian's "main": one extra field
            b'10.0.0.5 - - ' + T + b' "GET / HTTP/1.1" 200 3 "-" "-" "-"',
            "10.0.0.5", b"GET / HTTP/1.1", 200, "", "",
        ),
        (  # nginx logs a request line of garbage as it came
            b'1.2.3.4 - - ' + T + b' "\\x16\\x03\\x01" 400 157 "-" "-"',
            "1.2.3.4", b"\x16\x03\x01", 400, "", "",
        ),
    ],
)  # fmt: skip
def test_parse_combined(
    line: bytes, client: str, req: bytes, status: int, xff: str, pp: str
) -> None:
    r = parse_combined(line)
    assert r == LogRecord(client, EPOCH, req, status, xff, pp)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"garbage",
        b'1.2.3.4 - - ' + T + b' "GET / HTTP/1.1" 200 3 "-"',  # truncated (syslog cut)
        b'1.2.3.4 - - ' + T + b' "GET / HTT',  # cut mid-request
        b'1.2.3.4 - - [27/Foo/2026:03:35:15 +0000] "GET / HTTP/1.1" 200 3 "-" "-"',
        b'1.2.3.4 - - [32/Nov/2026:03:35:15 +0000] "GET / HTTP/1.1" 200 3 "-" "-"',
        b'1.2.3.4 - - ' + T + b' "GET / HTTP/1.1" 2000 3 "-" "-"',
        b'\xff\xfe - - ' + T + b' "GET / HTTP/1.1" 200 3 "-" "-"',
        b'1.2.3.4 - - ' + T + b' "GET / HTTP/1.1" 200 3 "-" "-" trailing',
        b"1.2.3.4 " + b"x" * 70_000,
    ],
)  # fmt: skip
def test_parse_combined_refuses(line: bytes) -> None:
    with pytest.raises(MalformedLine):
        parse_combined(line)


def _json_line(**fields: object) -> bytes:
    base: dict[str, object] = {
        "msec": 1795750515.123,
        "time": "2026-11-27T03:35:15+00:00",
        "remote_addr": "121.6.1.2",
        "request": "GET / HTTP/1.1",
        "status": 200,
        "http_x_forwarded_for": "",
        "proxy_protocol_addr": "",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("line", "req", "time", "pp"),
    [
        (_json_line(), b"GET / HTTP/1.1", 1795750515.123, ""),
        # escape=json: control bytes as \u00XX, bytes >= 0x80 raw (invalid UTF-8 on purpose)
        (
            _json_line(request="GET /ca@@.jpg HTTP/1.1").replace(b"@@", b"\x80\\u0001"),
            b"GET /ca\x80\x01.jpg HTTP/1.1", 1795750515.123, "",
        ),
        (  # valid UTF-8 stays the same bytes
            _json_line(request="GET /café HTTP/1.1"), "GET /café HTTP/1.1".encode(),
            1795750515.123, "",
        ),
        (_json_line(msec=None), b"GET / HTTP/1.1", EPOCH, ""),
        (_json_line(msec=None, time=None), b"GET / HTTP/1.1", 0.0, ""),
        (_json_line(proxy_protocol_addr="1.1.1.1"), b"GET / HTTP/1.1", 1795750515.123, "1.1.1.1"),
        (_json_line(status="400"), b"GET / HTTP/1.1", 1795750515.123, ""),
    ],
)  # fmt: skip
def test_parse_json(line: bytes, req: bytes, time: float, pp: str) -> None:
    r = parse_json(line)
    assert (r.request, r.time, r.proxy_protocol_addr, r.client) == (req, time, pp, "121.6.1.2")


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"[]",
        b'{"remote_addr": "1.2.3.4"}',
        _json_line(status="x"),
        _json_line(status=True),
        _json_line(remote_addr=""),
        _json_line(remote_addr="\u0000 1.2.3.4"),
        _json_line(request=5),
        _json_line(time="yesterday", msec=None),
        _json_line(http_x_forwarded_for=7),
        _json_line()[:-5],  # truncated by a syslog size limit
        _json_line(request="GET /\ud800 HTTP/1.1"),  # an escape nginx never writes
        b"[" * 100_000,
    ],
)
def test_parse_json_refuses(line: bytes) -> None:
    with pytest.raises(MalformedLine):
        parse_json(line)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        (b"27/Nov/2026:03:35:15 +0000", EPOCH),
        (b"27/Nov/2026:11:35:15 +0800", EPOCH),  # Singapore local time
        (b"27/Nov/2026:02:05:15 -0130", EPOCH),
        (b"01/Jan/1970:00:00:00 +0000", 0.0),
    ],
)
def test_parse_time_local(text: bytes, epoch: float) -> None:
    assert parse_time_local(text) == epoch


@pytest.mark.parametrize(
    ("escaped", "raw"),
    [
        (b"plain", b"plain"),
        (b"\\x80\\x01", b"\x80\x01"),
        (b"a\\x5Cx41", b"a\\x41"),  # an escaped backslash followed by text stays text
        (b"\\xZZ", b"\\xZZ"),  # not an escape: kept
        (b"\\x4", b"\\x4"),
    ],
)
def test_unescape(escaped: bytes, raw: bytes) -> None:
    assert unescape(escaped) == raw


@pytest.mark.parametrize(
    ("line", "fmt"), [(b'{"a":1}', "json"), (b"  {", "json"), (b"1.2.3.4 - -", "combined")]
)
def test_sniff_format(line: bytes, fmt: str) -> None:
    assert sniff_format(line) == fmt


@settings(max_examples=150)
@given(st.binary(max_size=300))
def test_nginx_escaping_round_trips(raw: bytes) -> None:
    # What nginx writes for any request line, the parser reads back byte for byte.
    line = b"1.2.3.4 - - " + T + b' "' + _escape(raw).encode() + b'" 400 0 "-" "-"'
    assert parse_combined(line).request == raw


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda a, b: b"1.2.3.4 - - " + T + b' "' + a + b'" 200 ' + b,
            st.binary(max_size=80),
            st.binary(max_size=40),
        ),
        st.builds(lambda a: b'{"remote_addr":"1.2.3.4","request":"' + a, st.binary(max_size=80)),
    )
)
def test_parsers_never_raise_anything_but_malformed(data: bytes) -> None:
    for parse in (parse_combined, parse_json):
        try:
            record = parse(data)
        except MalformedLine:
            continue
        assert isinstance(record.request, bytes) and isinstance(record.client, str)


def test_a_client_field_with_control_bytes_is_malformed() -> None:
    with pytest.raises(MalformedLine):
        parse_combined(b"\x00" + b"1.2.3.4 - - " + T + b' "GET / HTTP/1.1" 200 3 "-" "-"')


@pytest.mark.parametrize(
    "line",
    [
        _json_line(status="9" * 5000),  # int() of > 4300 digits raises ValueError
        _json_line(status="²00"),  # str.isdigit() is true, int() refuses it
        _json_line(status="4000"),
        _json_line(status=-1),
        _json_line(msec=None).replace(b'"status": 200', b'"status": ' + b"9" * 5000),
        _json_line(msec=None).replace(b'"status": 200', b'"status": 1e400'),
        _json_line(msec="1e400"),
        _json_line(msec="nan"),
        _json_line(msec="-inf"),
        _json_line(msec="-5"),
        _json_line(msec="1e300"),
        _json_line(msec="soon"),
        _json_line().replace(b'"msec": 1795750515.123', b'"msec": 1e400'),
        _json_line().replace(b'"msec": 1795750515.123', b'"msec": NaN'),
        _json_line(msec=None, time="9999-12-31T23:59:59-14:00"),
        _json_line(msec=None, time="0001-01-01T00:00:00+14:00"),
    ],
)
def test_parse_json_refuses_out_of_range_numbers(line: bytes) -> None:
    with pytest.raises(MalformedLine):
        parse_json(line)


def test_parse_combined_refuses_a_time_out_of_range() -> None:
    line = b'1.2.3.4 - - [31/Dec/9999:23:59:59 -1400] "GET / HTTP/1.1" 200 3 "-" "-"'
    with pytest.raises(MalformedLine):
        parse_combined(line)


# JSON text for one field's value: what a sender (anyone, over UDP) can put there.
_JSON_VALUES = st.one_of(
    st.integers().map(str),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),  # a huge number
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: json.dumps(f)),
    st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "true", "null", "[]", "{}", '""']),
    st.text(max_size=30).map(json.dumps),
    st.text("0123456789.e+-", max_size=30).map(json.dumps),
    st.integers(min_value=4000, max_value=6000).map(lambda n: json.dumps("9" * n)),
)
_JSON_FIELDS = ("msec", "time", "remote_addr", "request", "status", "http_x_forwarded_for")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_JSON_FIELDS), _JSON_VALUES))
def test_parse_json_fuzzed_fields_give_a_record_or_malformed(fields: dict[str, str]) -> None:
    base = {"remote_addr": '"1.2.3.4"', "request": '"GET / HTTP/1.1"', "status": "200"}
    body = ",".join(f'"{k}":{v}' for k, v in {**base, **fields}.items())
    try:
        record = parse_json(("{" + body + "}").encode("utf-8", "surrogatepass"))
    except MalformedLine:
        return
    assert math.isfinite(record.time) and 0 <= record.time <= MAX_TIME
    assert 0 <= record.status <= 999


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(rb"\A\d{1,3}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\Z"),
    st.from_regex(rb"\A\d{1,6}\Z"),
    st.binary(max_size=60),
)
def test_parse_combined_fuzzed_fields_give_a_record_or_malformed(
    time_local: bytes, status: bytes, request: bytes
) -> None:
    line = b"1.2.3.4 - - [" + time_local + b'] "' + request + b'" ' + status + b' 3 "-" "-"'
    try:
        record = parse_combined(line)
    except MalformedLine:
        return
    assert math.isfinite(record.time) and 0 <= record.time <= MAX_TIME
