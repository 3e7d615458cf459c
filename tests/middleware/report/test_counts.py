"""Counts in every ``dpi-report`` output: thousands separated by commas."""

from __future__ import annotations

import pytest

from middleware.report.counts import count


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567"), (-4200, "-4,200")],
)
def test_counts_share_one_format(n: int, text: str) -> None:
    assert count(n) == text
