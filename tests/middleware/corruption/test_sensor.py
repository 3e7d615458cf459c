"""CorruptionSensorMiddleware over a real uvicorn: what it flags, rejects, counts and attributes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from middleware.attribution.attributor import Attributor
from middleware.attribution.prefix_table import PrefixTable
from middleware.corruption.classify import classify
from middleware.corruption.sensor import _FLAG, CorruptionSensorMiddleware
from middleware.signed import KeyRing, SignedURLMiddleware, new_key_line, sign_url
from tests.support.apps import echo
from tests.support.servers import uvicorn_server
from tests.support.wait import wait_until

TABLE = PrefixTable([("116.14.0.0/15", 9506), ("20.0.0.0/8", 8075)], {9506: "SINGTEL"})


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def read_events(path: Path, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return tmp_path / "corruption.jsonl"


@pytest.fixture
def served(events: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Attributor]]:
    options = getattr(request, "param", {})
    attributor = Attributor(TABLE, events_path=events)
    app = CorruptionSensorMiddleware(echo, attributor=attributor, **options)
    # uvicorn's own proxy_headers would rewrite the peer first: off, to test the sensor's.
    with uvicorn_server(app, proxy_headers=False) as url:
        yield url, attributor


CASES = [
    # (target, headers, kind, where, evidence bytes)
    ("/img/ab%80%01de.png", {}, "dpi_signature", "path", b"/img/ab\x80\x01de.png"),
    ("/search?q=ab%80%04", {}, "dpi_signature", "query", b"q=ab\x80\x04"),
    ("/a%00b", {}, "control_bytes", "path", b"/a\x00b"),
    ("/caf%E9", {}, "invalid_utf8", "path", b"/caf\xe9"),
    ("/", {"referer": b"https://shop.example/p/ab\x80\x01de"}, "dpi_signature", "referer", None),
    ("/", {"cookie": b"sid=abc%C3; theme=dark"}, "invalid_utf8", "cookie", None),
]


@pytest.mark.parametrize(("target", "headers", "kind", "where", "evidence"), CASES)
def test_flag_passes_the_request_on_and_records_one_event(
    served: tuple[str, Attributor],
    events: Path,
    target: str,
    headers: dict[str, bytes],
    kind: str,
    where: str,
    evidence: bytes | None,
) -> None:
    url, _ = served
    before = sample("edgeward_corruption_events_total", kind=kind, source="asgi", asn="9506")
    response = httpx.get(url + target, headers={"x-forwarded-for": "116.14.2.3", **headers})
    assert response.status_code == 200
    assert response.json() == {"kind": kind}  # the app sees the finding
    (line,) = read_events(events, 1)
    assert (line["kind"], line["detail"], line["source"]) == (kind, where, "asgi")
    assert (line["client"], line["asn"], line["as_name"]) == ("116.14.2.3", 9506, "SINGTEL")
    if evidence is not None:
        assert bytes.fromhex(line["evidence_hex"]) in evidence
    after = sample("edgeward_corruption_events_total", kind=kind, source="asgi", asn="9506")
    assert after == before + 1


@pytest.mark.parametrize("served", [{"action": "reject"}], indirect=True)
@pytest.mark.parametrize(("target", "headers", "kind", "where", "evidence"), CASES[:2])
def test_reject_answers_400_without_calling_the_app(
    served: tuple[str, Attributor],
    events: Path,
    target: str,
    headers: dict[str, bytes],
    kind: str,
    where: str,
    evidence: bytes | None,
) -> None:
    url, _ = served
    response = httpx.get(url + target, headers=headers)
    assert response.status_code == 400
    assert "corrupted" in response.text
    assert read_events(events, 1)[0]["kind"] == kind
    assert httpx.get(url + "/clean").status_code == 200  # clean requests still pass


@pytest.mark.parametrize(
    "target",
    ["/", "/api/v1/users/12345?sort=desc", "/caf%C3%A9", "/form?text=a%0D%0Ab", "/100%"],
)
def test_clean_requests_pass_without_events(
    served: tuple[str, Attributor], events: Path, target: str
) -> None:
    url, attributor = served
    response = httpx.get(url + target, headers={"referer": "https://example.org/", "cookie": "a=b"})
    assert response.json() == {"kind": None}
    # The sensor submits before it answers: nothing queued, in work or done means no event.
    assert (attributor.pending, attributor._busy, attributor.processed) == (0, 0, 0)
    assert not events.exists()


@pytest.mark.parametrize(
    ("served", "xff", "client", "asn"),
    [
        ({}, "116.14.2.3", "116.14.2.3", 9506),  # loopback is trusted by default
        ({}, "6.6.6.6, 20.1.1.1", "20.1.1.1", 8075),  # rightmost untrusted entry
        ({"trusted_proxies": []}, "116.14.2.3", "127.0.0.1", None),  # header not believed
        ({"trusted_proxies": ["10.0.0.0/8"]}, "116.14.2.3", "127.0.0.1", None),
    ],
    indirect=["served"],
)
def test_the_client_is_the_peer_unless_a_trusted_proxy_forwarded_it(
    served: tuple[str, Attributor], events: Path, xff: str, client: str, asn: int | None
) -> None:
    url, _ = served
    httpx.get(url + "/x%80%01", headers={"x-forwarded-for": xff})
    (line,) = read_events(events, 1)
    assert (line["client"], line["asn"]) == (client, asn)


def test_every_request_is_counted_for_its_network(served: tuple[str, Attributor]) -> None:
    url, _ = served
    before = sample("edgeward_requests_by_asn_total", asn="unknown")
    with httpx.Client() as client:
        for _ in range(5):
            client.get(url + "/", headers={"x-forwarded-for": "192.168.1.1"})
    assert sample("edgeward_requests_by_asn_total", asn="unknown") == before + 5


def test_the_lifespan_starts_and_stops_the_attributor(events: Path) -> None:
    attributor = Attributor(TABLE, events_path=events)
    app = CorruptionSensorMiddleware(echo, attributor=attributor)
    with uvicorn_server(app, lifespan="on") as url:
        assert attributor._running()  # started with the app, before any event
        httpx.get(url + "/a%80%01")
        read_events(events, 1)
    assert not attributor._running()  # stopped with the app
    lines = attributor.event_log.lines
    assert lines is not None and not lines.is_open  # events file closed


def test_defaults_work_alone(events: Path) -> None:
    app = CorruptionSensorMiddleware(echo)  # no table, no resolver: ASN unknown
    kind_before = sample(
        "edgeward_corruption_events_total", kind="dpi_signature", source="asgi", asn="unknown"
    )
    with uvicorn_server(app, lifespan="off") as url:
        assert httpx.get(url + "/a%80%04").json() == {"kind": "dpi_signature"}
        wait_until(lambda: app.attributor.processed >= 1, what="the event to be attributed")
    after = sample(
        "edgeward_corruption_events_total", kind="dpi_signature", source="asgi", asn="unknown"
    )
    assert after == kind_before + 1


def test_other_scopes_pass_through_untouched() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {"type": "websocket", "path": "/a%80%01", "raw_path": b"/a%80%01", "headers": []}
    sensor = CorruptionSensorMiddleware(app)
    asyncio.run(sensor(scope, receive, send))
    assert seen == [(scope, receive, send)]
    assert "state" not in scope and sensor.attributor.pending == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"action": "drop"}, "action must be"), ({"trusted_proxies": ["nope"]}, "trusted_proxies")],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CorruptionSensorMiddleware(echo, **kwargs)


def test_with_signed_urls_a_corrupted_signed_link_is_corrupted_not_forged(events: Path) -> None:
    keyring = KeyRing.parse(new_key_line("k1"))
    inner = SignedURLMiddleware(echo, keyring=keyring, protect=("/media/",))
    app = CorruptionSensorMiddleware(inner, attributor=Attributor(TABLE, events_path=events))
    valid = sign_url("/media/holiday-photo.jpg", keyring, expires_at=int(time.time()) + 600)
    # the seed's damage: two characters replaced by 0x80 0x01 (percent-encoded by the client)
    corrupted = valid.replace("photo", "ph%80%01o", 1)
    forged = valid.replace("photo", "phoot", 1)
    with uvicorn_server(app) as url, httpx.Client() as client:
        assert client.get(url + valid).status_code == 200
        assert client.get(url + corrupted).status_code == 400  # signed: corrupted
        assert client.get(url + forged).status_code == 403  # signed: bad signature
    lines = read_events(events, 1)
    assert len(lines) == 1  # only the corrupted one is a corruption event
    assert lines[0]["kind"] == "dpi_signature" and lines[0]["detail"] == "path"


def test_count_requests_off_still_records_events(events: Path) -> None:
    attributor = Attributor(TABLE, events_path=events)
    app = CorruptionSensorMiddleware(echo, attributor=attributor, count_requests=False)
    before = sample("edgeward_requests_by_asn_total", asn="unknown")
    with uvicorn_server(app, proxy_headers=False) as url, httpx.Client() as client:
        assert client.get(url + "/clean").status_code == 200
        assert client.get(url + "/a%80%01").json() == {"kind": "dpi_signature"}
        (line,) = read_events(events, 1)
    assert line["client"] == "127.0.0.1"
    assert sample("edgeward_requests_by_asn_total", asn="unknown") == before


@pytest.mark.parametrize(("damage", "evidence"), [(b"%80%01", "8001"), (b"%C3", "c3")])
def test_a_corrupted_cookie_never_leaks_its_neighbours(
    events: Path, caplog: pytest.LogCaptureFixture, damage: bytes, evidence: str
) -> None:
    token = b"s3cr3tSessionToken"
    app = CorruptionSensorMiddleware(echo, attributor=Attributor(TABLE, events_path=events))
    with caplog.at_level("DEBUG"), uvicorn_server(app, proxy_headers=False) as url:
        cookie = b"theme=dark; sid=" + token[:9] + b"%80%01" + token[9:]
        assert httpx.get(url + "/", headers={"cookie": cookie}).json() == {"kind": "dpi_signature"}
        (line,) = read_events(events, 1)
    assert line["evidence_hex"] == "8001"  # the damage itself, nothing around it
    written = events.read_text() + caplog.text
    for piece in (token[:4], token[5:9], token[9:13], token[-4:]):
        assert piece.hex() not in written and piece.decode() not in written


# The sensor inlines the classifier's clean-path test (isascii, no "%", printable) rather
# than calling classify() for every field; the inlined copy must flag exactly what the
# function flags, for any bytes in any field.
_PIECES = st.sampled_from(
    [
        *(b"a", b"/", b"=", b" ", b"~", b"%", b"%8", b"%80", b"%01", b"%C3", b"%0A"),
        *(b"\x80", b"\x01", b"\x04", b"\x7f", b"\t", b"\xc3\xa9", b"\xe9"),
    ]
)
_FIELD = st.binary(max_size=24) | st.lists(_PIECES, max_size=10).map(b"".join)


@given(path=_FIELD, query=_FIELD, referer=_FIELD, cookie=_FIELD)
@settings(max_examples=300, deadline=None)
def test_the_inlined_fast_path_flags_exactly_what_classify_flags(
    path: bytes, query: bytes, referer: bytes, cookie: bytes
) -> None:
    expected = next(
        (f for f in map(classify, (path, query, referer, cookie)) if f is not None), None
    )
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run() -> None:
        sensor = CorruptionSensorMiddleware(app, attributor=Attributor(stop_grace=1.0))
        scope = {
            "type": "http",
            "path": path.decode("latin-1"),
            "raw_path": path,
            "query_string": query,
            "headers": [(b"host", b"x"), (b"referer", referer), (b"cookie", cookie)],
            "client": ("192.0.2.1", 5000),
        }
        await sensor(scope, receive, send)
        await sensor.attributor.stop()

    asyncio.run(run())
    assert len(seen) == 1
    assert seen[0].get("state", {}).get("corruption") == expected


@pytest.mark.parametrize("byte", range(256))
def test_the_fast_path_table_passes_exactly_printable_ascii_but_percent(byte: int) -> None:
    """``field.translate(_FLAG) is field`` is the sensor's "clean" test: true for a field
    of printable ASCII without "%" only (what classify() passes without looking)."""
    field = b"/media/" + bytes([byte]) + b"x"
    clean = 0x20 <= byte < 0x7F and byte != ord("%")
    assert (field.translate(_FLAG) is field) == clean
    if clean:
        assert classify(field) is None
