"""The HTML chart: the logs' whole span, hourly bars, ticks on whole hours or days."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from middleware.report.build import AsnRow, Report
from middleware.report.render_html import chart_svg, render_html, ticks

T0 = 1795737600  # 2026-11-27T00:00:00Z
H = 3600
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("start", "end", "labels"),
    [
        (T0, T0 + 6 * H, ["11-27 00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00"]),
        (T0 + 1800, T0 + 2 * H, ["11-27 01:00", "02:00"]),  # the first tick is a whole hour
        (T0 - 6 * H, T0 + 30 * H, ["11-26 18:00", "11-27 00:00", "06:00", "12:00", "18:00",
                                   "11-28 00:00", "06:00"]),  # a date at each midnight
        (T0, T0 + 20 * 86400, ["2026-11-27", "2026-12-04", "2026-12-11"]),
    ],
)  # fmt: skip
def test_ticks_are_whole_hours_or_days(start: int, end: int, labels: list[str]) -> None:
    got = ticks(start, end)
    assert [label for _, label in got][: len(labels)] == labels
    assert all(t % H == 0 and start <= t <= end for t, _ in got)
    assert 1 <= len(got) <= 9


def test_day_ticks_on_a_long_span() -> None:
    got = ticks(T0, T0 + 20 * 86400)
    assert all(t % 86400 == 0 for t, _ in got) and got[0][1] == "2026-11-27"
    assert all(len(label) == 10 for _, label in got)


def report(timeline: dict[int, list[tuple[int, int]]], axis: tuple[int, int]) -> Report:
    rows = [AsnRow(asn, "", 1000, sum(k for _, k in pts)) for asn, pts in timeline.items()]
    return Report(
        rows=rows, inputs=[], requests=5000, corrupted=sum(r.corrupted for r in rows),
        alpha=0.05, threshold=0.01, tested=5, bucket_seconds=H, timeline=timeline,
        recoveries=None, logs_span=(axis[0], axis[1] - 1), axis=axis,
    )  # fmt: skip


def test_the_axis_covers_the_logs_span_not_just_the_corrupted_hours() -> None:
    # Corruption in hour 4 only of a 24-hour log: the bar sits at 4/24 of the width.
    svg = chart_svg(report({9506: [(T0 + 4 * H, 7)]}, (T0, T0 + 24 * H)))
    root = ElementTree.fromstring(svg[: svg.index("</svg>") + 6])  # noqa: S314 (our own output)
    (bar,) = root.findall(f"{SVG}rect")
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "11-27 00:00" in labels and "11-28 00:00" in labels  # both ends of the span
    x0, x1 = 56, 900 - 10  # the plot's left and right edges
    assert float(bar.get("x", "0")) == pytest.approx(x0 + (x1 - x0) * 4 / 24, abs=1)
    assert float(bar.get("width", "0")) == pytest.approx((x1 - x0) / 24 - 1, abs=1)
    assert "per hour" in svg
    assert [t for t in labels if t and t.isdigit()] == ["0", "2", "4", "6", "8"]  # whole counts


def test_the_page_counts_use_one_format() -> None:
    page = render_html(report({9506: [(T0, 1)]}, (T0, T0 + H)))
    assert "5,000 requests" in page and "<td>1,000</td>" in page
