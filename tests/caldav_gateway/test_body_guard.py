"""Request bodies: deep XML never reaches Radicale's parser, oversized bodies get 413."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from caldav_gateway.body_guard import XMLRefused, check_xml
from tests.support.attack import DeepXMLFlood, median_sync, record_figure
from tests.support.gateway import Gateway, running_gateway

PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>'
)


def nested(levels: int) -> bytes:
    """The attack of issue 11: a PROPFIND nesting ``levels`` ``<D:prop>`` elements."""
    return (
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
        + b"<D:prop>" * levels
        + b"</D:prop>" * levels
        + b"</D:propfind>"
    )


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (PROPFIND, None),
        (nested(62), None),  # 63 levels with propfind: within 64
        (nested(64), "nested deeper than 64"),
        (nested(150_000), "nested deeper than 64"),
        (b"<a>" * 100 + b"<b", "nested deeper than 64"),  # truncated, still too deep
        (b"<a><b></a>", None),  # not well-formed: Radicale answers 400 itself
        (b"\xff\xfe garbage", None),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DTD"),
        (b"", None),
    ],
)
def test_check_xml(body: bytes, refused: str | None) -> None:
    if refused is None:
        check_xml(body, 64)
    else:
        with pytest.raises(XMLRefused, match=refused):
            check_xml(body, 64)


@pytest.fixture(scope="module")
def small_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("body")
    config = tmp / "gateway.toml"
    config.write_text("max_body = 200000\n")
    with running_gateway(tmp / "gw", ["--config", str(config)]) as gw:
        yield gw


def _client(gw: Gateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, verify=gw.ssl_context(), timeout=60)


def _metric(gw: Gateway, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", httpx.get(gw.metrics_url).text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.mark.parametrize("levels", [100_000, 150_000])
def test_deep_xml_gets_400_and_the_gateway_stays_up(gateway: Gateway, levels: int) -> None:
    alice = ("alice", gateway.users["alice"])
    with _client(gateway) as c:
        r = c.request("PROPFIND", "/alice/", auth=alice, content=nested(levels))
        assert r.status_code == 400
        assert "nested deeper" in r.text
        # the same process still answers
        r = c.request("PROPFIND", "/alice/", auth=alice, content=PROPFIND, headers={"Depth": "0"})
        assert r.status_code == 207
    assert _metric(gateway, 'edgeward_caldav_bodies_refused_total{reason="xml"}') >= 1


@pytest.mark.parametrize("method", ["PUT", "PROPFIND", "REPORT", "POST", "DELETE"])
def test_declared_oversized_body_is_413_for_every_method(
    small_gateway: Gateway, method: str
) -> None:
    alice = ("alice", small_gateway.users["alice"])
    with _client(small_gateway) as c:
        r = c.request(method, "/alice/cal/x.ics", auth=alice, content=b"x" * 200_001)
        assert r.status_code == 413
        r = c.request(method, "/alice/", auth=alice, content=b"x" * 200_001)
        assert r.status_code == 413


def test_streamed_oversized_body_is_413_and_memory_stays_bounded(gateway: Gateway) -> None:
    """No Content-Length (chunked): counted as it streams, refused past the default 16 MiB;
    the gateway's memory does not grow by the 200 MB sent (issue 11: +564 MB kept)."""
    alice = ("alice", gateway.users["alice"])
    before = _metric(gateway, "process_resident_memory_bytes")

    def chunks() -> Iterator[bytes]:
        chunk = b"<a>" + b"x" * (1024 * 1024)
        for _ in range(200):
            yield chunk

    with _client(gateway) as c:
        try:
            r = c.request("PROPFIND", "/alice/", auth=alice, content=chunks())
            assert r.status_code == 413
        except httpx.TransportError:
            pass  # the gateway may close before the client finished sending: also a refusal
        r = c.request("PROPFIND", "/alice/", auth=alice, content=PROPFIND, headers={"Depth": "0"})
        assert r.status_code == 207
    after = _metric(gateway, "process_resident_memory_bytes")
    assert after - before < 80 * 1024 * 1024, (before, after)
    assert _metric(gateway, 'edgeward_caldav_bodies_refused_total{reason="too_large"}') >= 1


def test_bodies_within_the_limit_reach_radicale(small_gateway: Gateway) -> None:
    alice = ("alice", small_gateway.users["alice"])
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        "UID:body-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\n"
        "SUMMARY:ok\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with _client(small_gateway) as c:
        assert c.request("MKCALENDAR", "/alice/body/", auth=alice).status_code == 201
        r = c.put("/alice/body/1.ics", auth=alice, content=event.encode())
        assert r.status_code == 201
        r = c.get("/alice/body/1.ics", auth=alice)
        assert r.status_code == 200 and "UID:body-1" in r.text
        r = c.request(
            "PROPFIND", "/alice/body/", auth=alice, content=PROPFIND, headers={"Depth": "1"}
        )
        assert r.status_code == 207 and "1.ics" in r.text


def test_readme_documents_the_limits() -> None:
    readme = (Path(__file__).parents[2] / "caldav_gateway" / "README.md").read_text()
    for key in ("max_body", "max_xml_body", "max_xml_depth"):
        assert f"`{key}`" in readme


def test_a_large_flat_xml_body_is_413_and_never_stalls_other_clients(gateway: Gateway) -> None:
    """4 MiB of XML at most: an 8 MiB flat PROPFIND (2 million elements) would cost its
    check (and Radicale's parse) tens of seconds of CPU; it is refused unread by expat, and
    the check itself runs off the event loop."""
    alice = ("alice", gateway.users["alice"])
    flat = b"<D:propfind xmlns:D='DAV:'>" + b"<a/>" * (2 * 1024 * 1024) + b"</D:propfind>"
    with _client(gateway) as c:
        started = time.monotonic()
        r = c.request("PROPFIND", "/alice/", auth=alice, content=flat)
        assert r.status_code == 413 and "XML body over" in r.text
        assert time.monotonic() - started < 30
    # within the limit, a flat document passes the check
    check_xml(b"<r>" + b"<a/>" * 1000 + b"</r>", 64)


@pytest.mark.slow
def test_a_real_client_syncs_during_a_deep_xml_flood(tmp_path: Path) -> None:
    """Issue 11's must-show: two clients sending 150,000-deep PROPFINDs back to back do not
    crash the gateway nor push a ``caldav`` client's sync out of its normal latency."""
    with running_gateway(tmp_path / "gw") as gw:
        baseline, base_rounds = median_sync(gw, 6)
        with DeepXMLFlood(gw, nested(150_000), workers=2).running() as flood:
            deadline = time.monotonic() + 60
            while sum(flood.statuses.values()) < 4:
                assert time.monotonic() < deadline, flood.statuses
                time.sleep(0.1)
            attacked, attack_rounds = median_sync(gw, 6)
        report = (
            f"deep-XML flood: {sum(flood.statuses.values())} PROPFINDs of 150,000 levels "
            f"answered {flood.statuses}, {flood.errors} transport errors; caldav sync median "
            f"{baseline:.3f}s without, {attacked:.3f}s with; rounds "
            f"{[round(t, 3) for t in base_rounds]} / {[round(t, 3) for t in attack_rounds]}"
        )
        record_figure("caldav-deep-xml-flood", report)
        assert set(flood.statuses) == {400} and flood.errors == 0, report
        assert attacked <= 3 * baseline + 1.0, report
        assert "Traceback" not in gw.log_text()
