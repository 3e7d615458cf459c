"""Every metric of the middleware, declared once here: names, types and labels as the
dashboards and alert rules use them, and no second declaration anywhere in the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

import middleware.metrics as metrics
from edgeward.metrics import PREFIX

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
    pattern = re.compile(r"\b(Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*[\"']edgeward_")
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
