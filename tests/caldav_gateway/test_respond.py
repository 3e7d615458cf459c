"""The gateway's own short answers: status, body, and headers that match the body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from caldav_gateway.respond import plain


@pytest.mark.parametrize(
    ("status", "body", "extra"),
    [
        (404, b"", []),
        (413, b"request body too large\n", []),
        (429, "zu viele Versuche – später\n".encode(), [(b"retry-after", b"30")]),
        (401, b"x", [(b"www-authenticate", b'Basic realm="CalDAV"')]),
    ],
)
def test_one_start_and_one_body_with_the_byte_length(
    status: int, body: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(plain(send, status, body, extra or None))
    start, content = sent
    assert start["type"] == "http.response.start" and start["status"] == status
    headers = start["headers"]
    assert headers[: len(extra)] == extra  # the caller's headers, first and untouched
    assert (b"content-type", b"text/plain; charset=utf-8") in headers
    assert (b"content-length", str(len(body)).encode()) in headers
    assert [k for k, _ in headers].count(b"content-length") == 1
    assert content == {"type": "http.response.body", "body": body}
