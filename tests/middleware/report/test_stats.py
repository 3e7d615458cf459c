"""Wilson interval and the one-sided Fisher test against exact rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction
from math import comb, isclose

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.report.stats import fisher_greater, wilson


def exact_upper_tail(k: int, n: int, big_k: int, big_n: int) -> float:
    top = min(n, big_k)
    if big_n > 20_000:  # rational arithmetic on numbers this big takes seconds: log-space sum
        return sum(math.exp(log_pmf(x, n, big_k, big_n)) for x in range(k, top + 1))
    total = sum(
        Fraction(comb(big_k, x) * comb(big_n - big_k, n - x), comb(big_n, n))
        for x in range(k, top + 1)
    )
    return float(total)


def log_pmf(x: int, n: int, big_k: int, big_n: int) -> float:
    def log_comb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    return log_comb(big_k, x) + log_comb(big_n - big_k, n - x) - log_comb(big_n, n)


@pytest.mark.parametrize(
    ("k", "n", "big_k", "big_n"),
    [
        (3, 10, 5, 100),
        (1, 10, 5, 100),
        (0, 10, 5, 100),
        (5, 5, 5, 100),
        (6, 10, 5, 100),  # impossible: more than there are
        (2, 300, 76, 10_000),
        (76, 3743, 76, 1_000_000),  # the seed: astronomically small
        (1, 13_000, 76, 1_000_000),  # an even spread's share
        (10, 20_000, 76, 1_000_000),
    ],
)
def test_fisher_matches_exact_sum(k: int, n: int, big_k: int, big_n: int) -> None:
    got = fisher_greater(k, n, big_k, big_n)
    want = exact_upper_tail(k, n, big_k, big_n) if k <= min(n, big_k) else 0.0
    assert isclose(got, want, rel_tol=1e-7, abs_tol=1e-300)


@settings(max_examples=150)
@given(st.data())
def test_fisher_is_exact_on_small_tables(data: st.DataObject) -> None:
    big_n = data.draw(st.integers(1, 60))
    big_k = data.draw(st.integers(0, big_n))
    n = data.draw(st.integers(0, big_n))
    k = data.draw(st.integers(0, n))
    got = fisher_greater(k, n, big_k, big_n)
    want = exact_upper_tail(k, n, big_k, big_n) if k <= min(n, big_k) else 0.0
    assert isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def test_fisher_refuses_inconsistent_counts() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        fisher_greater(5, 3, 10, 100)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Published values (Wilson 1927 / Newcombe 1998, table I): 81/263, 15/148, 0/20, 1/29
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (20, 20, 0.8389, 1.0),
    ],
)
def test_wilson_matches_published_intervals(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


@settings(max_examples=100)
@given(st.integers(0, 10**9), st.data())
def test_wilson_contains_the_estimate(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= hi <= 1.0
    if n:
        assert lo <= k / n <= hi
