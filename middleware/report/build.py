"""From what the inputs hold to the report: per-AS rows, the test, a timeline, recoveries.

Counting rules (also in ``dpi-report --help``):

- requests come from nginx logs only (event files hold no denominator); without logs the
  rates, intervals and the test are left out (``null`` in JSON);
- a corrupted request found in a log and an event describing the same request (same
  client and kind, times within 2 s: ``dpi-watch`` read the same log, or the ASGI sensor saw
  it) are counted once;
- an event's AS is the one its attributor resolved; a log line's AS comes from
  ``--asn-table`` (AS 0, "unknown", without one or when no prefix holds the client).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from middleware.attribution.prefix_table import PrefixTable
from middleware.report.inputs import Collected, Corrupted, InputStats
from middleware.report.recover import Recovery, is_signed, recover
from middleware.report.stats import fisher_greater, wilson
from middleware.signed import KeyRing

SCHEMA: Final = "edgeward.dpi-report/1"
_SAME_EVENT_SECONDS: Final = 2.0
_NICE_BUCKETS: Final = (60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


@dataclass
class AsnRow:
    asn: int
    name: str
    requests: int | None
    corrupted: int
    kinds: dict[str, int] = field(default_factory=dict)
    rate: float | None = None
    ci95: tuple[float, float] | None = None
    p_value: float | None = None
    flagged: bool = False


@dataclass
class Report:
    rows: list[AsnRow]
    inputs: list[InputStats]
    requests: int | None
    corrupted: int
    alpha: float
    threshold: float | None  # alpha / tested AS numbers
    tested: int
    bucket_seconds: int
    timeline: dict[int, list[tuple[int, int]]]  # asn → [(bucket start, corrupted)]
    recoveries: list[Recovery] | None
    generated_at: float = field(default_factory=time.time)
    captured: list[Corrupted] = field(default_factory=list)  # events read from captures

    @property
    def flagged(self) -> list[AsnRow]:
        return [r for r in self.rows if r.flagged]


def _dedupe(corrupted: list[Corrupted]) -> list[Corrupted]:
    """Drop events that describe a request a log line already showed."""
    logged: dict[tuple[str, str], list[float]] = {}
    for c in corrupted:
        if c.origin == "log":
            logged.setdefault((c.client, c.kind), []).append(c.time)
    out = []
    for c in corrupted:
        if c.origin != "log":
            times = logged.get((c.client, c.kind), ())
            if any(abs(t - c.time) <= _SAME_EVENT_SECONDS for t in times):
                continue
        out.append(c)
    return out


def _bucket_size(span: float) -> int:
    for size in _NICE_BUCKETS:
        if span / size <= 60:
            return size
    return _NICE_BUCKETS[-1]


def build_report(
    collected: Collected,
    table: PrefixTable | None,
    *,
    alpha: float = 0.05,
    keys: KeyRing | None = None,
    max_tries: int | None = None,
    on_recovery: Callable[[int, int], None] | None = None,
) -> Report:
    asn_cache: dict[str, int] = {}

    def asn_of(client: str) -> int:
        asn = asn_cache.get(client)
        if asn is None:
            asn = table.lookup_asn(client) if table is not None else 0
            asn_cache[client] = asn
        return asn

    requests: Counter[int] = Counter()
    for client, n in collected.clients.items():
        requests[asn_of(client.decode("ascii", "replace"))] += n
    corrupted = _dedupe(collected.corrupted)
    names: dict[int, str] = {}
    by_asn: dict[int, list[Corrupted]] = {}
    for c in corrupted:
        asn = c.asn if c.asn is not None else asn_of(c.client)
        by_asn.setdefault(asn, []).append(c)
        if c.as_name:
            names.setdefault(asn, c.as_name)
    has_logs = collected.has_logs
    total_n = sum(requests.values()) if has_logs else None
    total_k = len(corrupted)
    asns = set(requests) | set(by_asn)
    tested = sum(1 for a in asns if requests.get(a, 0) > 0) if has_logs else 0
    threshold = alpha / tested if tested else None
    rows: list[AsnRow] = []
    for asn in asns:
        hits = by_asn.get(asn, [])
        k = len(hits)
        name = (table.name(asn) if table is not None else "") or names.get(asn, "")
        row = AsnRow(asn, name, requests.get(asn, 0) if has_logs else None, k)
        row.kinds = dict(Counter(c.kind for c in hits))
        if row.requests is not None and total_n:
            n = row.requests
            # Events the logs did not see (an ASGI event with no log input for its
            # request) can make k exceed n; the rate is then capped, the test still holds.
            n_eff = max(n, k)
            big_n = max(total_n, total_k)
            row.rate = k / n_eff if n_eff else None
            row.ci95 = wilson(k, n_eff) if n_eff else None
            row.p_value = fisher_greater(k, n_eff, total_k, big_n) if n_eff else None
            row.flagged = (
                threshold is not None
                and row.p_value is not None
                and k > 0
                and row.p_value < threshold
            )
        rows.append(row)
    rows.sort(
        key=lambda r: (
            not r.flagged,
            r.p_value if r.p_value is not None else 2.0,
            -r.corrupted,
            -(r.requests or 0),
            r.asn,
        )
    )
    times = [c.time for c in corrupted if c.time > 0]
    size = _bucket_size(max(times) - min(times)) if times else 3600
    timeline: dict[int, list[tuple[int, int]]] = {}
    for asn, hits in by_asn.items():
        buckets = Counter(int(c.time // size * size) for c in hits if c.time > 0)
        timeline[asn] = sorted(buckets.items())
    recoveries = None
    if keys is not None:
        recoveries = []
        signed = [c.target for c in corrupted if c.target is not None and is_signed(c.target)]
        for i, target in enumerate(signed):
            kwargs = {} if max_tries is None else {"max_tries": max_tries}
            recoveries.append(recover(target, keys, **kwargs))
            if on_recovery is not None:
                on_recovery(i + 1, len(signed))
    return Report(
        rows=rows,
        inputs=collected.inputs,
        requests=total_n,
        corrupted=total_k,
        alpha=alpha,
        threshold=threshold,
        tested=tested,
        bucket_seconds=size,
        timeline=timeline,
        recoveries=recoveries,
        captured=[c for c in corrupted if c.capture is not None],
    )


def clean_float(x: float | None) -> float | None:
    """JSON has no NaN or infinity; the report never needs them."""
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return x
