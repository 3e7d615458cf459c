"""Every metric of the middleware, declared once here: names, types and labels as the
dashboards and alert rules use them, and no second declaration anywhere in the package."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

import middleware.metrics as metrics
from edgeward.metrics import PREFIX
from middleware.metrics import ticker

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("metric", "kind", "name", "labels"),
    [
        (metrics.CORRUPTION_EVENTS, Counter, "edgeward_corruption_events",
         ("kind", "source", "asn")),
        (metrics.REQUESTS_BY_ASN, Counter, "edgeward_requests_by_asn", ("asn",)),
        (metrics.ATTRIBUTION_DROPPED, Counter, "edgeward_attribution_dropped", ()),
        (metrics.ATTRIBUTION_LOOKUP_SECONDS, Histogram, "edgeward_attribution_lookup_seconds",
         ("method",)),
        (metrics.WHOIS_LOOKUPS, Counter, "edgeward_attribution_whois_lookups", ("outcome",)),
        (metrics.SIGNED_URL_CHECKS, Counter, "edgeward_signed_url_checks", ("result",)),
        (metrics.EDGE_LOG_LINES, Counter, "edgeward_edge_log_lines", ("result",)),
        (metrics.EDGE_SYSLOG_REFUSED, Counter, "edgeward_edge_syslog_refused", ()),
        (metrics.EDGE_LAST_LINE_AGE, Gauge, "edgeward_edge_last_line_age_seconds", ()),
        (metrics.ATTRIBUTION_SUPPRESSED, Counter, "edgeward_attribution_suppressed", ()),
    ],
)  # fmt: skip
def test_metric(metric: MetricWrapperBase, kind: type, name: str, labels: tuple[str, ...]) -> None:
    assert isinstance(metric, kind)
    assert metric._name == name and name.startswith(PREFIX)
    assert tuple(metric._labelnames) == labels
    assert metric._documentation.endswith(".")


def test_the_table_above_is_every_metric() -> None:
    declared = [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]
    assert len(declared) == 10


def test_no_other_module_of_the_middleware_declares_a_metric() -> None:
    """ "Import the metric from here, never redeclare it": a second declaration of a name
    fails at import in prometheus_client, a new name elsewhere escapes the dashboards."""
    pattern = re.compile(
        r"\b(Counter|TickCounter|Gauge|Histogram|Summary|Info|Enum)\(\s*[\"']edgeward_"
    )
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "middleware").rglob("*.py"))
        if path.name != "metrics.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_signed_url_results_are_exported_from_start_up() -> None:
    """Every result label exists at zero once the middleware is imported, so a rate() never
    starts from a missing series."""
    import middleware.signed.middleware  # noqa: F401
    from middleware.signed.outcome import RESULTS

    samples = {
        s.labels["result"]
        for m in metrics.SIGNED_URL_CHECKS.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert samples >= set(RESULTS)


# --- TickCounter: prometheus_client's Counter with a lock-free "+1" ---------------------

# One operation on a labelled counter: ("tick"|"inc"|"reset", label index, amount).
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["tick", "inc", "reset"]),
        st.integers(0, 2),
        st.sampled_from([1, 1.0, 2, 0.5, 0, 1e9]),
    ),
    max_size=40,
)


def _exposition(kind: type[Counter], ops: list[tuple[str, int, float]]) -> bytes:
    registry = CollectorRegistry()
    counter = kind("edgeward_test_ticks", "Ticks.", ["result"], registry=registry)
    children = [counter.labels(name) for name in ("a", "b", "c")]
    counter.labels("zero")  # a series that is never counted: exported at 0
    for op, index, amount in ops:
        child = children[index]
        if op == "tick":
            ticker(child)()
        elif op == "inc":
            child.inc(amount)
        else:
            child.reset()
    return generate_latest(registry)


@given(ops=_OPS)
@settings(max_examples=200, deadline=None)
def test_a_tick_counter_exposes_byte_for_byte_what_a_counter_does(
    ops: list[tuple[str, int, float]],
) -> None:
    """Same names, HELP, TYPE, labels, values and ``_created`` samples as prometheus_client's
    own Counter after any sequence of increments (by one through the lock-free tick, by any
    amount through inc) and resets. (``_created`` holds the creation time: both read one
    frozen clock.)"""
    with mock.patch("time.time", return_value=1_700_000_000.25):
        mine = _exposition(metrics.TickCounter, ops)
        theirs = _exposition(
            Counter, [("inc", i, 1) if op == "tick" else (op, i, a) for op, i, a in ops]
        )
    assert mine == theirs
    assert b"edgeward_test_ticks_created" in mine


def test_the_declared_tick_counters_are_the_per_request_ones() -> None:
    """Both counters that a middleware increments on every request count lock-free."""
    for metric in (metrics.REQUESTS_BY_ASN, metrics.SIGNED_URL_CHECKS):
        assert isinstance(metric, metrics.TickCounter)
        child = metric.labels("tick-test")
        assert ticker(child) != child.inc  # the lock-free one, not the fallback


def test_ticks_from_many_threads_are_all_counted() -> None:
    """Exact counts when threads tick, add other amounts and read (each read is one more
    ``next()``, subtracted again) all at once. A tick is one C call, atomic under the GIL
    by construction rather than by luck; CPython 3.11 switches threads only between
    calls and at loop jumps, so no test can force every interleaving: this one makes
    many, with the switch interval at its minimum."""
    counter = metrics.TickCounter("edgeward_test_threads", "Threads.", registry=None)
    tick = ticker(counter)
    threads, per_thread = 8, 20_000
    reads: list[float] = []
    start = threading.Barrier(threads + 3)

    def ticking() -> None:
        start.wait()
        for _ in range(per_thread):
            tick()

    def adding() -> None:
        start.wait()
        for _ in range(1_000):
            counter.inc(3)

    def reading() -> None:
        start.wait()
        for _ in range(2_000):
            reads.append(counter._value.get())

    workers = [threading.Thread(target=ticking) for _ in range(threads)]
    workers += [threading.Thread(target=f) for f in (adding, reading, reading)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(old)
    assert counter._value.get() == threads * per_thread + 3 * 1_000
    assert len(reads) == 4_000
    assert max(reads) <= threads * per_thread + 3 * 1_000


MULTIPROCESS = """
import sys
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from middleware.metrics import SIGNED_URL_CHECKS, ticker
tick = ticker(SIGNED_URL_CHECKS.labels("valid"))
for _ in range(5):
    tick()
SIGNED_URL_CHECKS.labels("expired").inc(2)
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
sys.stdout.write(generate_latest(registry).decode())
"""


def test_in_multiprocess_mode_ticks_land_in_prometheus_client_files(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR (several workers behind one /metrics), the counts must
    reach the shared files: a TickCounter falls back to prometheus_client's own values."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    assert 'edgeward_signed_url_checks_total{result="valid"} 5.0' in done.stdout
    assert 'edgeward_signed_url_checks_total{result="expired"} 2.0' in done.stdout
    assert list(tmp_path.glob("counter_*.db"))
