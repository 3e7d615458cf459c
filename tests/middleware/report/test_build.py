"""From collected inputs to the report, on hand-made ``Collected`` values: requests per
AS from the table, the one-sided test with Bonferroni, events that repeat a log line
counted once, events the logs do not hold set apart, and the timeline."""

from __future__ import annotations

from collections import Counter

import pytest

from middleware.attribution.prefix_table import PrefixTable
from middleware.report.build import (
    DAY,
    HOUR,
    REASONS,
    SCHEMA,
    Report,
    build_report,
    clean_float,
    span_of,
)
from middleware.report.inputs import Collected, Corrupted, InputStats

T0 = 1795737600.0  # 2026-11-27T00:00:00Z
GOOD_NET, BAD_NET = 64500, 9506  # 198.51.100.0/24, 203.0.113.0/24


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> PrefixTable:
    path = tmp_path_factory.mktemp("build") / "t.tsv"
    path.write_text(
        "198.51.100.0\t198.51.100.255\t64500\tZZ\tGOOD-NET\n"
        "203.0.113.0\t203.0.113.255\t9506\tSG\tSINGTEL\n"
    )
    return PrefixTable.load(path)


def _log(bad: int, *, requests: int = 1000, extra: list[Corrupted] | None = None) -> Collected:
    """A log of ``requests`` per network over an hour; ``bad`` corrupted lines from BAD_NET."""
    clients = Counter({b"198.51.100.7": requests, b"203.0.113.9": requests})
    corrupted = [
        Corrupted(T0 + 60 * i, "203.0.113.9", "dpi_signature", "8001", 5, "log", b"/a\x80\x01")
        for i in range(bad)
    ]
    span = {"first": T0, "last": T0 + HOUR - 1}
    stats = InputStats("access.log", "nginx-combined", lines=2 * requests, **span)
    return Collected(clients, corrupted + (extra or []), [stats])


def _event(t: float, client: str = "203.0.113.9", kind: str = "dpi_signature") -> Corrupted:
    return Corrupted(t, client, kind, "8001", 5, "edge", asn=BAD_NET, as_name="SINGTEL")


def test_a_network_with_many_corrupted_requests_is_flagged(table: PrefixTable) -> None:
    report = build_report(_log(20), table)
    assert isinstance(report, Report) and SCHEMA == "edgeward.dpi-report/1"
    assert (report.requests, report.corrupted, report.tested) == (2000, 20, 2)
    assert report.threshold == pytest.approx(0.05 / 2)
    assert [r.asn for r in report.flagged] == [BAD_NET]
    bad, good = report.rows  # flagged first
    assert (bad.asn, bad.name, bad.requests, bad.corrupted) == (BAD_NET, "SINGTEL", 1000, 20)
    assert bad.kinds == {"dpi_signature": 20} and bad.rate == pytest.approx(0.02)
    assert bad.ci95 is not None and bad.ci95[0] < 0.02 < bad.ci95[1]
    assert (bad.first, bad.last) == (T0, T0 + 60 * 19)
    assert (good.asn, good.corrupted, good.flagged, good.first) == (GOOD_NET, 0, False, None)


@pytest.mark.parametrize(("bad", "flagged"), [(0, []), (1, []), (20, [BAD_NET])])
def test_flagging_needs_evidence(table: PrefixTable, bad: int, flagged: list[int]) -> None:
    assert [r.asn for r in build_report(_log(bad), table).flagged] == flagged


def test_without_a_table_every_client_is_as_0(table: PrefixTable) -> None:
    report = build_report(_log(20), None)
    assert [(r.asn, r.requests, r.corrupted) for r in report.rows] == [(0, 2000, 20)]
    assert report.tested == 1


@pytest.mark.parametrize(
    ("event_time", "counted", "reason"),
    [
        (T0 + 60 + 1.5, 2, None),  # repeats a log line (same client and kind, within 2 s)
        (T0 + 1800, 2, "no_log_line"),  # in the span, but no log line shows it
        (T0 - 600, 2, "before_logs"),
        (T0 + 2 * HOUR, 2, "after_logs"),
    ],
)
def test_events_beside_logs(
    table: PrefixTable, event_time: float, counted: int, reason: str | None
) -> None:
    report = build_report(_log(2, extra=[_event(event_time)]), table)
    assert report.corrupted == counted
    assert [u.reason for u in report.unmatched] == ([reason] if reason else [])
    if reason:
        assert report.unmatched_by_reason() == {reason: 1} and reason in REASONS
        assert report.unmatched[0].asn == BAD_NET


def test_events_alone_have_no_denominator(table: PrefixTable) -> None:
    events = [_event(T0 + i) for i in range(5)]
    stats = InputStats("events.jsonl", "events", lines=5, first=T0, last=T0 + 4)
    report = build_report(Collected(Counter(), events, [stats]), table)
    assert report.requests is None and report.tested == 0 and report.threshold is None
    (row,) = report.rows
    got = (row.asn, row.requests, row.corrupted, row.rate, row.p_value)
    assert got == (BAD_NET, None, 5, None, None)
    assert report.events_span == (T0, T0 + 4) and report.logs_span is None


def test_timeline_buckets_by_hour(table: PrefixTable) -> None:
    report = build_report(_log(20), table)
    assert report.bucket_seconds == HOUR
    assert report.timeline[BAD_NET] == [(int(T0), 20)]
    assert report.axis == (int(T0), int(T0) + HOUR)


def test_a_long_span_is_charted_per_day(table: PrefixTable) -> None:
    collected = _log(2)
    collected.inputs[0].last = T0 + 60 * DAY
    assert build_report(collected, table).bucket_seconds == DAY


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], None),
        ([(None, None)], None),
        ([(5.0, 9.0), (None, None), (1.0, 6.0)], (1.0, 9.0)),
    ],
)
def test_span_of(
    spans: list[tuple[float | None, float | None]], expected: tuple[float, float] | None
) -> None:
    stats = [InputStats(f"f{i}", "nginx-json", first=a, last=b) for i, (a, b) in enumerate(spans)]
    assert span_of(stats) == expected


@pytest.mark.parametrize(
    ("x", "y"),
    [(None, None), (0.5, 0.5), (float("nan"), None), (float("inf"), None), (-float("inf"), None)],
)
def test_clean_float(x: float | None, y: float | None) -> None:
    assert clean_float(x) == y
