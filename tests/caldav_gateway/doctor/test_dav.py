"""The doctor's WebDAV reading: any multistatus body is a result or a ``DavError``."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from caldav_gateway.doctor.dav import DavError, parse_multistatus

_XMLISH = st.sampled_from(
    [
        b"",
        b'<?xml version="1.0"?>',
        b'<!DOCTYPE x [<!ENTITY a "b">]>',
        b'<D:multistatus xmlns:D="DAV:">',
        b"<D:response><D:href>/</D:href>",
        b"<D:propstat><D:prop><D:resourcetype/></D:prop>",
        b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat>",
        b"</D:response>",
        b"</D:multistatus>",
        b"&a;",
    ]
)


@settings(max_examples=80)
@given(st.one_of(st.binary(max_size=300), st.lists(_XMLISH, max_size=8).map(b"".join)))
def test_multistatus_parser_never_crashes(body: bytes) -> None:
    """Whatever the server sends, the doctor reports a DavError, never a traceback."""
    with contextlib.suppress(DavError):
        parse_multistatus(body)


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.sampled_from(["/", "/alice/", "/alice/cal/", "/a%20b/"]), st.booleans()),
        max_size=5,
    )
)
def test_multistatus_parser_keeps_only_found_properties(rows: list[tuple[str, bool]]) -> None:
    def response(href: str, found: bool) -> str:
        status = "HTTP/1.1 200 OK" if found else "HTTP/1.1 404 Not Found"
        return (
            f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>"
            "<D:current-user-principal><D:href>/alice/</D:href></D:current-user-principal>"
            f"</D:prop><D:status>{status}</D:status></D:propstat></D:response>"
        )

    body = (
        '<D:multistatus xmlns:D="DAV:">' + "".join(response(*r) for r in rows) + "</D:multistatus>"
    )
    got = parse_multistatus(body.encode())
    assert [r.href for r in got] == [h for h, _ in rows]
    assert [r.href_of("DAV:", "current-user-principal") for r in got] == [
        "/alice/" if found else None for _, found in rows
    ]
