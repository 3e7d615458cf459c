"""``dpi-report --json``: a stable, documented document (schema ``edgeward.dpi-report/1``).

Keys are only ever added within a schema version, never renamed or removed::

    {
      "schema": "edgeward.dpi-report/1",
      "generated_at": "2026-11-27T03:50:00Z",
      "inputs": [{"path": str, "kind": "nginx-combined"|"nginx-json"|"events",
                  "lines": int, "malformed": int, "first": time|null, "last": time|null}],
      "spans": {"logs": {"first": time, "last": time}|null, "events": same|null},
      "totals": {"requests": int|null, "corrupted": int, "rate": float|null,
                 "asns": int, "flagged": [int, ...]},
      "test": {"method": "fisher-exact-one-sided", "correction": "bonferroni",
               "alpha": 0.05, "tested": int, "threshold": float|null},
      "asns": [{"asn": int (0 = unknown), "name": str, "requests": int|null,
                "corrupted": int, "kinds": {kind: int}, "rate": float|null,
                "ci95": [low, high]|null, "p_value": float|null, "flagged": bool,
                "first_corrupted": time|null, "last_corrupted": time|null}],
      "unmatched_events": {"count": int, "reasons": {reason: int},
                           "asns": {"<asn>": int}, "explained": {reason: str}},
      "timeline": {"bucket_seconds": 3600|86400, "axis": [start, end]|null,
                   "series": {"<asn>": [[bucket_start_unix, corrupted], ...]}},
      "recovery": null | {"attempted": int, "recovered": int, "skipped": int,
                          "items": [{"corrupted": str, "original": str|null,
                                     "kid": str|null, "tries": int}]},
      "captures": {"inputs": [{"path": str, "format": "pcap"|"pcapng", "frames": int,
                               "connections": int, "http": int, "tls": int, "other": int,
                               "requests": int, "gaps": int, "snapped": int, ...}],
                   "events": [{"time", "client", "kind", "evidence_hex", "target",
                               "stream", "tcp_client", "server", "field", "frame",
                               "frames", "ttl", "ip_id", "checksum", "peer_ttls", "stream_ttls",
                               "proxied"}]}
    }

``time`` is ISO 8601 UTC (``2026-11-27T03:35:15Z``). ``unmatched_events``: events set
apart because the logs read do not hold their request (reasons ``before_logs``,
``after_logs``, ``no_log_line``); they are in no count above. ``asns`` is sorted: flagged
first, then by p-value, corrupted count, requests. Corrupted targets are written with
nginx's ``\\xHH`` escaping (the JSON stays ASCII).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from middleware.report.build import REASONS, SCHEMA, Report, clean_float


def escape_bytes(data: bytes) -> str:
    """nginx's log escaping: printable ASCII kept, the rest (and ``"``, ``\\``) as ``\\xHH``."""
    return "".join(
        chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02X}" for b in data
    )


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _span(span: tuple[float, float] | None) -> dict[str, str | None] | None:
    return None if span is None else {"first": iso(span[0]), "last": iso(span[1])}


def _recovery(report: Report) -> dict[str, Any] | None:
    if report.recoveries is None:
        return None
    return {
        "attempted": len(report.recoveries),
        "recovered": sum(1 for r in report.recoveries if r.original is not None),
        "skipped": report.recovery_skipped,
        "items": [
            {
                "corrupted": escape_bytes(r.corrupted),
                "original": r.original.decode("ascii") if r.original is not None else None,
                "kid": r.kid,
                "tries": r.tries,
            }
            for r in report.recoveries
        ],
    }


def _asns(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "asn": r.asn,
            "name": r.name,
            "requests": r.requests,
            "corrupted": r.corrupted,
            "kinds": dict(sorted(r.kinds.items())),
            "rate": clean_float(r.rate),
            "ci95": [r.ci95[0], r.ci95[1]] if r.ci95 is not None else None,
            "p_value": clean_float(r.p_value),
            "flagged": r.flagged,
            "first_corrupted": iso(r.first),
            "last_corrupted": iso(r.last),
        }
        for r in report.rows
    ]


def _unmatched(report: Report) -> dict[str, Any]:
    by_asn = Counter(u.asn for u in report.unmatched)
    return {
        "count": len(report.unmatched),
        "reasons": dict(report.unmatched_by_reason()),
        "asns": {str(asn): n for asn, n in sorted(by_asn.items())},
        "explained": dict(REASONS),
    }


def _timeline(report: Report) -> dict[str, Any]:
    return {
        "bucket_seconds": report.bucket_seconds,
        "axis": list(report.axis) if report.axis is not None else None,
        "series": {
            str(asn): [[t, k] for t, k in points] for asn, points in sorted(report.timeline.items())
        },
    }


def to_dict(report: Report) -> dict[str, Any]:
    total_rate = report.corrupted / report.requests if report.requests else None
    return {
        "schema": SCHEMA,
        "generated_at": iso(report.generated_at),
        "inputs": [
            {
                "path": i.path,
                "kind": i.kind,
                "lines": i.lines,
                "malformed": i.malformed,
                "first": iso(i.first),
                "last": iso(i.last),
            }
            for i in report.inputs
        ],
        "spans": {"logs": _span(report.logs_span), "events": _span(report.events_span)},
        "totals": {
            "requests": report.requests,
            "corrupted": report.corrupted,
            "rate": clean_float(total_rate),
            "asns": len(report.rows),
            "flagged": [r.asn for r in report.flagged],
        },
        "test": {
            "method": "fisher-exact-one-sided",
            "correction": "bonferroni",
            "alpha": report.alpha,
            "tested": report.tested,
            "threshold": clean_float(report.threshold),
        },
        "asns": _asns(report),
        "unmatched_events": _unmatched(report),
        "timeline": _timeline(report),
        "recovery": _recovery(report),
        "captures": _captures(report),
    }


def _captures(report: Report) -> dict[str, Any]:
    """What packet captures add: their counts, and each event's evidence (see the help)."""
    inputs = [
        {"path": i.path, **{k: v for k, v in vars(i.capture).items() if k != "cut_short"}}
        | {"cut_short": i.capture.cut_short or None}
        for i in report.inputs
        if i.capture is not None
    ]
    events = []
    for c in report.captured:
        ev = c.capture
        assert ev is not None
        events.append(
            {
                "time": c.time,
                "client": c.client,
                "kind": c.kind,
                "evidence_hex": c.evidence_hex,
                "target": escape_bytes(c.target) if c.target is not None else None,
                "stream": ev.stream,
                "tcp_client": ev.client,
                "server": ev.server,
                "field": ev.field,
                "frame": ev.frame,
                "frames": list(ev.frames),
                "ttl": ev.ttl,
                "ip_id": ev.ip_id,
                "checksum": ev.checksum,
                "peer_ttls": {str(t): n for t, n in ev.peer_ttls.items()},
                "stream_ttls": {str(t): n for t, n in ev.stream_ttls.items()},
                "proxied": ev.proxied,
            }
        )
    return {"inputs": inputs, "events": events}


def render_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=True) + "\n"
