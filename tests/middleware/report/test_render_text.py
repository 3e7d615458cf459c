"""The text table: readable in 80 columns, one unit per interval, one number format."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from middleware.report.build import AsnRow, Report
from middleware.report.render_text import duration, rate_and_interval, render_text

LONG = "SINGTEL-AS-AP Singapore Telecommunications Ltd, Magix Services " * 3


def report(rows: list[AsnRow]) -> Report:
    return Report(
        rows=rows, inputs=[], requests=sum(r.requests or 0 for r in rows), corrupted=12,
        alpha=0.05, threshold=0.05 / len(rows), tested=len(rows), bucket_seconds=3600,
        timeline={}, recoveries=None,
    )  # fmt: skip


def rows(n: int) -> list[AsnRow]:
    out = [AsnRow(9506, LONG, 1_234_567, 12, {"dpi_signature": 12}, 12 / 1_234_567,
                  (5.6e-6, 1.7e-5), 1.2e-21, True, 1795737600.0, 1795759200.0)]  # fmt: skip
    out += [AsnRow(64500 + i, f"NET{i} {LONG}", 10_000_000 + i, 0, {}, 0.0, (0.0, 3.8e-7), 1.0)
            for i in range(n)]  # fmt: skip
    return out


@pytest.mark.parametrize("width", [80, 100, 132])
def test_rows_stay_one_line_and_names_are_cut(width: int) -> None:
    out = io.StringIO()
    render_text(report(rows(5)), Console(file=out, width=width, emoji=False), top=20)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines)
    assert sum("AS645" in line for line in lines) == 5  # one line per row
    (row,) = [line for line in lines if "SIGNIFICANT" in line]
    assert "SINGTEL" in row and "…" in row and "1,234,567" in row
    assert "Magix Services SINGTEL" not in out.getvalue()  # truncated, not wrapped


@pytest.mark.parametrize(
    ("rate", "ci", "want"),
    [
        (9.7e-6, (5.6e-6, 1.7e-5), ("9.7 ppm", "5.6–17 ppm")),
        (5e-5, (2e-5, 2e-3), ("0.005 %", "0.002–0.2 %")),  # was "20.00 ppm – 0.2000 %"
        (0.0, (0.0, 3.8e-7), ("0", "0–0.38 ppm")),
        (0.5, (0.3, 0.7), ("50 %", "30–70 %")),
        (None, None, ("—", "—")),
    ],
)
def test_a_rate_and_its_interval_share_one_unit(
    rate: float | None, ci: tuple[float, float] | None, want: tuple[str, str]
) -> None:
    assert rate_and_interval(rate, ci) == want


@pytest.mark.parametrize(
    ("seconds", "want"),
    [(0, "0 s"), (59, "59 s"), (150, "2.5 min"), (6 * 3600 - 1, "6 h"), (30 * 86400, "30 d")],
)
def test_a_duration_uses_one_unit(seconds: float, want: str) -> None:
    assert duration(seconds) == want
