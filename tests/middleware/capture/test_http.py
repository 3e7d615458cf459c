"""Request heads from a client's byte stream: framing, what a connection carries, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from middleware.capture.http import MAX_HEAD, Head, RequestStream


def run(
    *pieces: bytes, gaps: tuple[int, ...] = (), from_syn: bool = True
) -> tuple[list[Head], RequestStream[int]]:
    heads: list[Head] = []
    stream: RequestStream[int] = RequestStream(lambda h, s: heads.append(h))
    stream.from_syn = from_syn
    for i, piece in enumerate(pieces):
        if i in gaps:
            stream.gap(7)
        stream.deliver(piece, i)
    stream.finish()
    return heads, stream


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    ("pieces", "lines", "carries"),
    [
        ((GET + GET,), [b"GET /a HTTP/1.1"] * 2, "http"),
        ((b"\r\n" + GET,), [b"GET /a HTTP/1.1"], "http"),  # empty lines before a request
        ((b"GET /lf HTTP/1.0\nHost: x\n\n",), [b"GET /lf HTTP/1.0"], "http"),  # bare LF
        (
            (b"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nGET" + GET,),
            [b"POST /p HTTP/1.1", b"GET /a HTTP/1.1"],
            "http",
        ),
        (
            (
                b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
                GET,
            ),
            [b"POST /c HTTP/1.1", b"GET /a HTTP/1.1"],
            "http",
        ),
        (
            (b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + GET,),
            [b"POST /c HTTP/1.1"],
            "http",
        ),
        (
            (b"POST /c HTTP/1.1\r\nContent-Length: x\r\n\r\n", GET),
            [b"POST /c HTTP/1.1", b"GET /a HTTP/1.1"],
            "http",
        ),
        (
            (b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", b"\x81\x85GET /"),
            [b"GET /ws HTTP/1.1"],
            "http",
        ),
        ((b"CONNECT h:443 HTTP/1.1\r\n\r\n", b"\x16\x03\x01"), [b"CONNECT h:443 HTTP/1.1"], "http"),
        ((b"\x16\x03\x01\x02\x00\x01\x00", GET), [], "tls"),
        ((b"\x16\x03\x03\x00\x5a\x02\x00",), [], "response"),  # a ServerHello
        ((b"HTTP/1.1 200 OK\r\n\r\n", GET), [], "response"),
        ((b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",), [], "http2"),
        ((GET + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", GET), [b"GET /a HTTP/1.1"], "http2"),  # h2c
        ((b"SSH-2.0-OpenSSH_9.2\r\n", GET), [b"GET /a HTTP/1.1"], "http"),  # resync at a request
        ((b"GET /partial HTTP/1.1\r\nHost:",), [b"GET /partial HTTP/1.1"], "http"),  # cut short
        ((b"G", b"ET /", b"a HTTP/1.1\r", b"\n\r", b"\n"), [b"GET /a HTTP/1.1"], "http"),
        ((b"MKCALENDAR /c/ HTTP/1.1\r\n\r\n",), [b"MKCALENDAR /c/ HTTP/1.1"], "http"),
        # Damage in the method: the line still ends in the HTTP version.
        ((b"\x80\x01T /a HTTP/1.1\r\n\r\n",), [b"\x80\x01T /a HTTP/1.1"], "http"),
        ((b"\x80\x04T /a", b"bc HTTP/1.1\r\n\r\n"), [b"\x80\x04T /abc HTTP/1.1"], "http"),
        # ...but only at the connection's start: later it could be a line's tail.
        ((b"SSH-2.0-x\r\n", b"\x80\x01T /a HTTP/1.1\r\n\r\n", GET), [b"GET /a HTTP/1.1"], "http"),
    ],
)
def test_framing(pieces: tuple[bytes, ...], lines: list[bytes], carries: str) -> None:
    heads, stream = run(*pieces)
    assert [h.line for h in heads] == lines
    assert stream.carries == carries


def test_without_the_syn_only_a_known_method_starts_a_request() -> None:
    heads, _ = run(
        b"age.jpg HTTP/1.1\r\n\r\n", b"\x80\x01T /a HTTP/1.1\r\n\r\n", GET, from_syn=False
    )
    assert [h.line for h in heads] == [b"GET /a HTTP/1.1"]


def test_proxy_header_then_requests() -> None:
    heads, stream = run(b"PROXY TCP4 198.51.100.9 192.0.2.1 1 2\r\n", GET)
    assert (stream.client, [h.line for h in heads]) == ("198.51.100.9", [b"GET /a HTTP/1.1"])


def test_a_gap_drops_the_rest_of_a_request_and_resyncs() -> None:
    heads, stream = run(b"GET /one HTTP/1.1\r\nHo", b"st: x\r\n\r\n", GET, gaps=(1,))
    assert [h.line for h in heads] == [b"GET /one HTTP/1.1", b"GET /a HTTP/1.1"]
    assert not heads[0].complete and stream.resyncs == 1


def test_a_head_without_end_is_cut_at_max_head() -> None:
    heads, _ = run(b"GET /big HTTP/1.1\r\nX: " + b"a" * MAX_HEAD, b"more")
    assert [h.line for h in heads] == [b"GET /big HTTP/1.1"]


@pytest.mark.parametrize(
    ("body", "missing", "then", "lines"),
    [
        (
            b"Content-Length: 20\r\n\r\n0123456789",
            10,
            b"",
            [b"POST /u HTTP/1.1", b"GET /a HTTP/1.1"],
        ),
        (
            b"Content-Length: 20\r\n\r\n0123456789",
            9,
            b"9",
            [b"POST /u HTTP/1.1", b"GET /a HTTP/1.1"],
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n10\r\n01234567",
            10,
            b"0\r\n\r\n",
            [b"POST /u HTTP/1.1", b"GET /a HTTP/1.1"],
        ),
        # A hole longer than the body: out of step, back in at the next request.
        (
            b"Content-Length: 20\r\n\r\n0123456789",
            30,
            b"",
            [b"POST /u HTTP/1.1", b"GET /a HTTP/1.1"],
        ),
        (b"Content-Length: 20\r\n\r\n0123456789", 30, b"junk", [b"POST /u HTTP/1.1"]),
    ],
)
def test_a_gap_inside_a_body_keeps_the_stream_in_step(
    body: bytes, missing: int, then: bytes, lines: list[bytes]
) -> None:
    heads: list[Head] = []
    stream: RequestStream[int] = RequestStream(lambda h, s: heads.append(h))
    stream.deliver(b"POST /u HTTP/1.1\r\n" + body, 0)
    stream.gap(missing)
    stream.deliver(then + GET, 1)
    stream.finish()
    assert [h.line for h in heads] == lines
    assert stream.resyncs == (1 if missing > 20 else 0)


def test_offsets_map_bytes_to_pieces() -> None:
    seen: list[tuple[Head, int, list[int]]] = []
    stream: RequestStream[int] = RequestStream(
        lambda h, s: seen.append((h, s.info_at(h.at + 9), s.infos(h.at, h.end)))
    )
    for i, piece in enumerate([GET[:5], GET[5:12], GET[12:] + GET[:3], GET[3:]]):
        stream.deliver(piece, i)
    (h1, at1, all1), (h2, at2, all2) = seen
    assert (h1.at, at1, all1) == (0, 1, [0, 1, 2])
    assert (h2.at, at2, all2) == (len(GET), 3, [2, 3])
    assert [(n, v) for n, v, _ in h1.headers] == []  # Host is not one we keep


def test_headers_with_offsets() -> None:
    data = b"GET / HTTP/1.1\r\nreferer: https://r/\r\nCOOKIE:a=1\r\nCookie: b=2\r\n\r\n"
    (head,), _ = run(data)
    assert [(n, v, data[o : o + len(v)]) for n, v, o in head.headers] == [
        (b"referer", b"https://r/", b"https://r/"),
        (b"cookie", b"a=1", b"a=1"),
        (b"cookie", b"b=2", b"b=2"),
    ]


@given(
    st.lists(
        st.one_of(st.binary(max_size=80), st.sampled_from([GET, b"\r\n\r\n", b"0\r\n", b"PROXY "])),
        max_size=30,
    ),
    st.sets(st.integers(0, 30), max_size=3),
)
def test_arbitrary_bytes_never_raise(pieces: list[bytes], gaps: set[int]) -> None:
    heads, stream = run(*pieces, gaps=tuple(gaps))
    total = sum(map(len, pieces)) + 7 * len(gaps)
    assert all(0 <= h.at < h.end <= total for h in heads)
    assert stream.requests == len(heads)
