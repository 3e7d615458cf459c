"""From what the inputs hold to the report: per-AS rows, the test, a timeline, recoveries.

Counting rules (also in ``dpi-report --help``):

- requests come from nginx logs and packet captures only (event files hold no
  denominator; a capture counts like a log below); without them the rates, intervals and
  the test are left out (``null`` in JSON);
- a corrupted request found in a log and an event describing the same request (same
  client and kind, times within 2 s: ``dpi-watch`` read the same log, or the ASGI sensor saw
  it) are counted once;
- with logs among the inputs, an event that matches no corrupted log line is **set apart**
  (:class:`Unmatched`, with the reason) and never counted: its request is not among the
  logs' requests, so counting it would test a network on corruption without its traffic
  (one such event from a network with no logged request gave p = 0.0002 and a flag);
- an event's AS is the one its attributor resolved; a log line's AS comes from
  ``--asn-table`` (AS 0, "unknown", without one or when no prefix holds the client).
"""

from __future__ import annotations

import math
import os
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from middleware.attribution.prefix_table import PrefixTable
from middleware.report.inputs import MAX_TIME, Collected, Corrupted, InputStats
from middleware.report.recover import Recovery, is_signed, recover
from middleware.report.stats import fisher_greater, wilson
from middleware.signed import KeyRing

SCHEMA: Final = "edgeward.dpi-report/1"
_SAME_EVENT_SECONDS: Final = 2.0
HOUR: Final = 3600
DAY: Final = 86400
_HOURLY_UP_TO: Final = 31 * DAY  # a longer span is charted per day (at most ~750 bars)

Reason = Literal["before_logs", "after_logs", "no_log_line"]
REASONS: Final[dict[Reason, str]] = {
    "before_logs": "before the logs' time span",
    "after_logs": "after the logs' time span",
    "no_log_line": "within the logs' span, but no log line shows it (a request other logs "
    "hold, or damage a log line cannot show, e.g. in a header)",
}


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
    first: float | None = None  # first and last corrupted request (Unix seconds)
    last: float | None = None


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An event whose request the logs do not hold: reported apart, never counted."""

    event: Corrupted
    asn: int
    reason: Reason


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
    logs_span: tuple[float, float] | None = None  # the logs' first and last line
    events_span: tuple[float, float] | None = None  # of all events read
    axis: tuple[int, int] | None = None  # the chart's time axis [start, end), whole buckets
    unmatched: list[Unmatched] = field(default_factory=list)
    recovery_skipped: int = 0  # signed URLs left untried: the budget ran out
    generated_at: float = field(default_factory=time.time)
    captured: list[Corrupted] = field(default_factory=list)  # events read from captures

    @property
    def flagged(self) -> list[AsnRow]:
        return [r for r in self.rows if r.flagged]

    def unmatched_by_reason(self) -> dict[Reason, int]:
        counts = Counter(u.reason for u in self.unmatched)
        return {r: counts[r] for r in REASONS if counts[r]}


def span_of(stats: list[InputStats]) -> tuple[float, float] | None:
    spans = [s.span for s in stats if s.span is not None]
    return (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None


def _holds_request(c: Corrupted) -> bool:
    """Found in an input that also counts the request: a log line, or a capture (known by
    its evidence, not by ``origin``, which an event file may spell any way)."""
    return c.origin == "log" or c.capture is not None


def _split(
    corrupted: list[Corrupted], logs_span: tuple[float, float] | None, has_logs: bool
) -> tuple[list[Corrupted], list[tuple[Corrupted, Reason]]]:
    """``(counted, set apart)``: events that repeat a log line are dropped; with logs,
    events that match none are set apart with the reason. A capture's corrupted request
    is one of the capture's own requests: counted, and matched like a log line."""
    logged: dict[tuple[str, str], list[float]] = {}
    for c in corrupted:
        if _holds_request(c):
            logged.setdefault((c.client, c.kind), []).append(c.time)
    for times in logged.values():
        times.sort()
    counted: list[Corrupted] = []
    apart: list[tuple[Corrupted, Reason]] = []
    for c in corrupted:
        if not _holds_request(c):
            times = logged.get((c.client, c.kind), [])
            i = bisect_left(times, c.time - _SAME_EVENT_SECONDS)
            if i < len(times) and times[i] <= c.time + _SAME_EVENT_SECONDS:
                continue  # the log line is counted
            if has_logs:
                reason: Reason = "no_log_line"
                if logs_span is not None and c.time < logs_span[0] - _SAME_EVENT_SECONDS:
                    reason = "before_logs"
                elif logs_span is not None and c.time > logs_span[1] + _SAME_EVENT_SECONDS:
                    reason = "after_logs"
                apart.append((c, reason))
                continue
        counted.append(c)
    return counted, apart


def _axis(span: tuple[float, float] | None) -> tuple[int, tuple[int, int] | None]:
    """Bucket size (an hour, a day beyond a month) and the axis covering ``span``."""
    if span is None:
        return HOUR, None
    size = HOUR if span[1] - span[0] <= _HOURLY_UP_TO else DAY
    start = int(span[0] // size * size)
    return size, (start, int(span[1] // size * size) + size)


def _recover_all(
    targets: list[bytes],
    keys: KeyRing,
    *,
    max_tries: int | None,
    max_urls: int | None,
    seconds: float | None,
    on_recovery: Callable[[int, int], None] | None,
) -> tuple[list[Recovery], int]:
    """Recover each distinct target within a total budget: ``(recoveries, skipped)``.

    Forged URLs cost the full search (about 73 ms each), so without a budget a flood of
    them would hold the report for hours; whatever the budget leaves is counted.
    """
    distinct = list(dict.fromkeys(targets))
    todo = distinct if max_urls is None else distinct[:max_urls]
    if on_recovery is not None:
        on_recovery(0, len(todo))
    deadline = None if seconds is None else time.monotonic() + seconds
    out: list[Recovery] = []
    kwargs = {} if max_tries is None else {"max_tries": max_tries}
    for target in todo:
        if deadline is not None and time.monotonic() >= deadline:
            break
        out.append(recover(target, keys, **kwargs))
        if on_recovery is not None:
            on_recovery(len(out), len(todo))
    return out, len(distinct) - len(out)


def _interleave(groups: list[list[bytes]]) -> list[bytes]:
    """Round-robin over the groups: one network's flood cannot starve the others."""
    out: list[bytes] = []
    depth = max((len(g) for g in groups), default=0)
    for i in range(depth):
        out.extend(g[i] for g in groups if i < len(g))
    return out


@dataclass
class Tally:
    """What a report is built from, with the AS table applied: requests per AS number,
    the corrupted requests (each with its AS), the inputs, and the table's names of those
    AS numbers. Every field is additive (:meth:`add`), and it holds no address but those of
    corrupted requests: what ``dpi-report --partial`` writes and ``merge`` sums."""

    requests: Counter[int] = field(default_factory=Counter)
    corrupted: list[Corrupted] = field(default_factory=list)
    inputs: list[InputStats] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)

    @property
    def has_logs(self) -> bool:
        return any(i.kind != "events" for i in self.inputs)

    def add(self, other: Tally) -> None:
        self.requests.update(other.requests)
        self.corrupted.extend(other.corrupted)
        self.inputs.extend(other.inputs)
        for asn, name in other.names.items():
            self.names.setdefault(asn, name)


def _asn(c: Corrupted) -> int:
    return c.asn if c.asn is not None else 0


def tally(collected: Collected, table: PrefixTable | None) -> Tally:
    """``collected`` per AS number: a log line's AS from ``table`` (0 without one), an
    event's from its attributor."""
    cache: dict[str, int] = {}

    def asn_of(client: str) -> int:
        asn = cache.get(client)
        if asn is None:
            asn = table.lookup_asn(client) if table is not None else 0
            cache[client] = asn
        return asn

    out = Tally(inputs=list(collected.inputs))
    clients = list(collected.clients)
    asns = table.asns_of(clients) if table is not None else [0] * len(clients)
    requests: dict[int, int] = {}
    get = requests.get
    for asn, n in zip(asns, collected.clients.values(), strict=True):
        requests[asn] = get(asn, 0) + n
    out.requests.update(requests)  # into an empty Counter: one C-level dict update
    out.corrupted = [
        c if c.asn is not None else replace(c, asn=asn_of(c.client)) for c in collected.corrupted
    ]
    if table is not None:
        for asn in sorted(set(out.requests) | {_asn(c) for c in out.corrupted}):
            name = table.name(asn)
            if name:
                out.names[asn] = name
    return out


def build_report(collected: Collected, table: PrefixTable | None, *, alpha: float = 0.05) -> Report:
    """The report over what was read, without recovery (:func:`report_of` has every option)."""
    return report_of(tally(collected, table), alpha=alpha)


def generated_now() -> float:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds convention): two runs
    over the same inputs then write the same bytes."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH", "")
    try:
        t = float(fixed) if fixed.strip() else None
    except ValueError:
        t = None
    return t if t is not None and 0 <= t <= MAX_TIME else time.time()


def report_of(
    counts: Tally,
    *,
    alpha: float = 0.05,
    keys: KeyRing | None = None,
    max_tries: int | None = None,
    recover_max: int | None = None,
    recover_seconds: float | None = None,
    on_recovery: Callable[[int, int], None] | None = None,
) -> Report:
    """The report over ``counts``: per-AS rows and the test, the timeline, recoveries."""
    has_logs = counts.has_logs
    logs_span = span_of([i for i in counts.inputs if i.kind != "events"])
    corrupted, apart = _split(counts.corrupted, logs_span, has_logs)
    by_asn: dict[int, list[Corrupted]] = {}
    for c in corrupted:
        by_asn.setdefault(_asn(c), []).append(c)
    rows, test = _rows(counts, by_asn, alpha=alpha, total_k=len(corrupted))
    size, axis, timeline = _timeline(by_asn, corrupted, logs_span if has_logs else None)
    recoveries, skipped = None, 0
    if keys is not None:  # the table's order, round-robin: the flagged networks first
        order = {r.asn: i for i, r in enumerate(rows)}
        groups = [
            [c.target for c in by_asn[asn] if c.target is not None and is_signed(c.target)]
            for asn in sorted(by_asn, key=order.__getitem__)
        ]
        recoveries, skipped = _recover_all(
            _interleave(groups),
            keys,
            max_tries=max_tries,
            max_urls=recover_max,
            seconds=recover_seconds,
            on_recovery=on_recovery,
        )
    return Report(
        rows=rows,
        inputs=counts.inputs,
        requests=sum(counts.requests.values()) if has_logs else None,
        corrupted=len(corrupted),
        alpha=alpha,
        threshold=test[1],
        tested=test[0],
        bucket_seconds=size,
        timeline=timeline,
        recoveries=recoveries,
        logs_span=logs_span,
        events_span=span_of([i for i in counts.inputs if i.kind == "events"]),
        axis=axis,
        unmatched=[Unmatched(c, _asn(c), reason) for c, reason in apart],
        recovery_skipped=skipped,
        generated_at=generated_now(),
        captured=[c for c in corrupted if c.capture is not None],
    )


def _rows(
    counts: Tally, by_asn: dict[int, list[Corrupted]], *, alpha: float, total_k: int
) -> tuple[list[AsnRow], tuple[int, float | None]]:
    """One row per AS number with requests or corrupted requests, flagged first; and the
    test's ``(tested, threshold)``: Bonferroni over the AS numbers with requests."""
    has_logs = counts.has_logs
    requests = counts.requests
    total_n = sum(requests.values()) if has_logs else None
    asns = set(requests) | set(by_asn)
    tested = sum(1 for a in asns if requests.get(a, 0) > 0) if has_logs else 0
    threshold = alpha / tested if tested else None
    event_names: dict[int, str] = {}
    for asn, hits in by_asn.items():
        for c in hits:
            if c.as_name:
                event_names.setdefault(asn, c.as_name)
                break
    rows: list[AsnRow] = []
    for asn in asns:
        hits = by_asn.get(asn, [])
        name = counts.names.get(asn, "") or event_names.get(asn, "")
        row = AsnRow(asn, name, requests.get(asn, 0) if has_logs else None, len(hits))
        row.kinds = dict(Counter(c.kind for c in hits))
        times = [c.time for c in hits if c.time > 0]
        if times:
            row.first, row.last = min(times), max(times)
        if row.requests is not None and total_n:
            _test(row, total_n, total_k, threshold)
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
    return rows, (tested, threshold)


def _test(row: AsnRow, total_n: int, total_k: int, threshold: float | None) -> None:
    """The row's rate, interval, p-value and flag."""
    assert row.requests is not None
    k = row.corrupted
    # Every counted corrupted request is a logged request, so k <= n; the max() only
    # guards the statistics against a line counted in one pass, not the other.
    n = max(row.requests, k)
    big_n = max(total_n, total_k)
    row.rate = k / n if n else None
    row.ci95 = wilson(k, n) if n else None
    row.p_value = fisher_greater(k, n, total_k, big_n) if n else None
    row.flagged = (
        threshold is not None and row.p_value is not None and k > 0 and row.p_value < threshold
    )


def _timeline(
    by_asn: dict[int, list[Corrupted]],
    corrupted: list[Corrupted],
    logs_span: tuple[float, float] | None,
) -> tuple[int, tuple[int, int] | None, dict[int, list[tuple[int, int]]]]:
    """``(bucket size, axis, corrupted per bucket per AS)``: the axis covers the logs'
    span (else the corrupted requests'), widened to every counted request."""
    counted_times = [c.time for c in corrupted if c.time > 0]
    chart_span = logs_span
    if chart_span is None and counted_times:
        chart_span = (min(counted_times), max(counted_times))
    size, axis = _axis(chart_span)
    timeline: dict[int, list[tuple[int, int]]] = {}
    for asn, hits in by_asn.items():
        buckets = Counter(int(c.time // size * size) for c in hits if c.time > 0)
        timeline[asn] = sorted(buckets.items())
    if axis is not None and counted_times:  # a log line's time outside its block's span
        lo = int(min(counted_times) // size * size)
        hi = int(max(counted_times) // size * size) + size
        axis = (min(axis[0], lo), max(axis[1], hi))
    return size, axis, timeline


def clean_float(x: float | None) -> float | None:
    """JSON has no NaN or infinity; the report never needs them."""
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return x
