"""The statistics of ``dpi-report``: a Wilson interval per AS and a one-sided Fisher test.

**Interval.** The 95 % Wilson score interval of ``k`` corrupted in ``n`` requests: unlike
the textbook ``p ± 1.96·sqrt(p(1-p)/n)`` it stays inside [0, 1] and is honest at ``k = 0``
and for the tiny rates of this problem (76 in hundreds of millions).

**Test.** Is this AS's rate above everyone else's? Condition on the totals: ``N``
requests, ``K`` of them corrupted. If corruption hit requests regardless of their network,
the corrupted count of an AS with ``n`` requests would follow the hypergeometric
distribution (``K`` corrupted drawn among ``N``, ``n`` of them this AS's). The p-value is
the chance of ``k`` or more under that null: Fisher's exact test, one-sided, of the 2×2
table (this AS / all others × corrupted / clean). Exact, so it holds for counts of 1 or 2,
where normal approximations fail.

**Many networks, one report.** Hundreds of AS numbers are tested at once, so an AS is
flagged only when ``p < alpha / m`` (Bonferroni, ``m`` = AS numbers with requests): the
chance that a report flags any network by luck alone stays below ``alpha`` (5 %).
"""

from __future__ import annotations

import math
from typing import Final

Z95: Final = 1.959963984540054  # the 97.5th percentile of the standard normal
_TINY: Final = 1e-17  # relative size below which further terms cannot change a double


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (``(0, 1)`` if ``n == 0``)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact at the ends: no rounding dust
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def _log_comb(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def _log_pmf(x: int, big_n: int, big_k: int, n: int) -> float:
    return _log_comb(big_k, x) + _log_comb(big_n - big_k, n - x) - _log_comb(big_n, n)


def fisher_greater(k: int, n: int, big_k: int, big_n: int) -> float:
    """P(X >= k) for X ~ Hypergeometric(population ``big_n``, ``big_k`` marked, ``n`` drawn).

    The one-sided Fisher exact p-value that a group of ``n`` requests holding ``k`` of the
    ``big_k`` corrupted ones (among ``big_n`` in all) is over-represented. The sum walks away
    from the mode, where terms only shrink, and stops once they no longer matter: the work
    is bounded by the spread of the distribution, not by ``n`` or ``big_k``.
    """
    if not (0 <= k <= n <= big_n and 0 <= big_k <= big_n):
        raise ValueError(f"inconsistent counts k={k} n={n} K={big_k} N={big_n}")
    lo = max(0, n + big_k - big_n)
    hi = min(n, big_k)
    if k <= lo:
        return 1.0
    if k > hi:
        return 0.0
    mode = (n + 1) * (big_k + 1) // (big_n + 2)
    if k > mode:
        return min(1.0, _tail_sum(k, hi, 1, big_n, big_k, n))
    # Lower side: 1 - P(X <= k-1), summed from k-1 downwards.
    return max(0.0, 1.0 - _tail_sum(k - 1, lo, -1, big_n, big_k, n))


def _tail_sum(start: int, stop: int, step: int, big_n: int, big_k: int, n: int) -> float:
    """Sum of pmf from ``start`` towards ``stop`` (inclusive), terms shrinking on the way."""
    log_term = _log_pmf(start, big_n, big_k, n)
    term = math.exp(log_term)
    total = term
    x = start
    while x != stop:
        if step > 0:  # pmf(x+1)/pmf(x)
            ratio = (big_k - x) * (n - x) / ((x + 1) * (big_n - big_k - n + x + 1))
        else:  # pmf(x-1)/pmf(x)
            ratio = x * (big_n - big_k - n + x) / ((big_k - x + 1) * (n - x + 1))
        term *= ratio
        x += step
        total += term
        if term <= total * _TINY:
            break
    return total
