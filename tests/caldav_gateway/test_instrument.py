"""RequestMetrics: every answer of the CalDAV port counted once, by bounded method and status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY

from caldav_gateway.instrument import RequestMetrics

NAME = "edgeward_caldav_requests_total"


def _count(method: str, status: str) -> float:
    return REGISTRY.get_sample_value(NAME, {"method": method, "status": status}) or 0.0


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    status = int(scope["path"].strip("/") or 200)
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": True})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("method", "path", "label", "status"),
    [
        ("PROPFIND", "/207", "PROPFIND", "207"),
        ("GET", "/404", "GET", "404"),
        ("MKCALENDAR", "/201", "MKCALENDAR", "201"),
        ("BREW", "/418", "other", "418"),  # unknown methods do not grow the label set
        ("propfind", "/405", "other", "405"),  # methods are case-sensitive
    ],
)
def test_each_answer_is_counted_once(method: str, path: str, label: str, status: str) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    before = _count(label, status)
    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(RequestMetrics(_answer)(scope, receive, send))
    assert _count(label, status) == before + 1
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 2]
    assert _count(method, status) == (before + 1 if label == method else 0.0)
