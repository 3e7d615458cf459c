"""``dpi-report --json``: the documented keys of schema ``edgeward.dpi-report/1``, ASCII
only, no NaN, and nginx's escaping for corrupted bytes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from middleware.report.build import SCHEMA, build_report
from middleware.report.inputs import Collected, Corrupted, InputStats, read_file
from middleware.report.render_json import escape_bytes, iso, render_json, to_dict
from tests.support.pcapgen import conversation, write

T0 = 1795737600.0  # 2026-11-27T00:00:00Z

# The module docstring's keys: added within a schema version, never renamed or removed.
TOP = {"schema", "generated_at", "inputs", "spans", "totals", "test", "asns",
       "unmatched_events", "timeline", "recovery", "captures"}  # fmt: skip
ASN = {"asn", "name", "requests", "corrupted", "kinds", "rate", "ci95", "p_value", "flagged",
       "first_corrupted", "last_corrupted"}  # fmt: skip
CAPTURE_EVENT = {"time", "client", "kind", "evidence_hex", "target", "stream", "tcp_client",
                 "server", "field", "frame", "frames", "ttl", "ip_id", "checksum", "peer_ttls",
                 "stream_ttls", "proxied"}  # fmt: skip


def _collected() -> Collected:
    bad = Corrupted(T0 + 5, "203.0.113.9", "dpi_signature", "8001", 5, "log", b'/a\x80\x01"b')
    stats = InputStats("access.log", "nginx-combined", lines=200, first=T0, last=T0 + 59)
    return Collected(Counter({b"203.0.113.9": 100, b"198.51.100.7": 100}), [bad], [stats])


def test_to_dict_has_the_documented_keys() -> None:
    doc = to_dict(build_report(_collected(), None))
    assert set(doc) == TOP and doc["schema"] == SCHEMA
    assert set(doc["asns"][0]) == ASN
    assert doc["inputs"] == [
        {
            "path": "access.log",
            "kind": "nginx-combined",
            "lines": 200,
            "malformed": 0,
            "first": "2026-11-27T00:00:00Z",
            "last": "2026-11-27T00:00:59Z",
        }
    ]
    assert doc["spans"] == {
        "logs": {"first": "2026-11-27T00:00:00Z", "last": "2026-11-27T00:00:59Z"},
        "events": None,
    }
    totals = {"requests": 200, "corrupted": 1, "rate": 0.005, "asns": 1, "flagged": []}
    assert doc["totals"] == totals
    assert doc["test"]["method"] == "fisher-exact-one-sided"
    assert doc["recovery"] is None  # no --keys
    assert doc["captures"] == {"inputs": [], "events": []}
    assert doc["timeline"]["series"] == {"0": [[int(T0), 1]]}


def test_render_json_is_ascii_and_strict_json() -> None:
    text = render_json(build_report(_collected(), None))
    assert text.isascii() and text.endswith("}\n")
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def test_no_denominator_gives_nulls_not_nan() -> None:
    event = Corrupted(T0, "203.0.113.9", "dpi_signature", "8001", 5, "edge", asn=9506)
    stats = InputStats("events.jsonl", "events", lines=1, first=T0, last=T0)
    doc = to_dict(build_report(Collected(Counter(), [event], [stats]), None))
    assert doc["totals"]["requests"] is None and doc["totals"]["rate"] is None
    assert doc["asns"][0]["rate"] is None and doc["asns"][0]["p_value"] is None
    assert doc["test"]["threshold"] is None


def test_capture_events_carry_their_evidence(tmp_path: Path) -> None:
    bad = b"GET /media/IMG_\x80\x01.jpg HTTP/1.1\r\nHost: shop.example\r\n\r\n"
    collected = Collected()
    capture = write(tmp_path / "in.pcap", conversation("203.0.113.7", "192.0.2.80", [bad]))
    read_file(capture, collected)
    captures = to_dict(build_report(collected, None))["captures"]
    (event,) = captures["events"]
    assert set(event) == CAPTURE_EVENT
    assert event["target"] == "/media/IMG_\\x80\\x01.jpg" and event["client"] == "203.0.113.7"
    assert captures["inputs"][0]["path"] == str(tmp_path / "in.pcap")
    assert captures["inputs"][0]["cut_short"] is None


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"/plain?a=1", "/plain?a=1"),
        (b"/a\x80\x01b", "/a\\x80\\x01b"),
        (b'say "hi"\\', "say \\x22hi\\x22\\x5C"),
        (b"\x00\x1f\x7f\xff", "\\x00\\x1F\\x7F\\xFF"),
        ("é".encode(), "\\xC3\\xA9"),
    ],
)
def test_escape_bytes_as_nginx_logs_them(data: bytes, text: str) -> None:
    assert escape_bytes(data) == text


@pytest.mark.parametrize(
    ("t", "text"),
    [(None, None), (0, "1970-01-01T00:00:00Z"), (T0 + 0.9, "2026-11-27T00:00:00Z")],
)
def test_iso(t: float | None, text: str | None) -> None:
    assert iso(t) == text
