"""printer_sync's metrics: the names, types and label sets dashboards and alerts rely on."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from printer_sync import metrics
from printer_sync.errors import ErrorKind

TABLE: list[tuple[MetricWrapperBase, str, type, tuple[str, ...]]] = [
    (metrics.PUSH_TOTAL, "edgeward_printer_push", Counter, ("printer", "result")),
    (metrics.PUSH_DURATION, "edgeward_printer_push_duration_seconds", Histogram, ("printer",)),
    (
        metrics.PUSH_LAST_SUCCESS,
        "edgeward_printer_push_last_success_timestamp_seconds",
        Gauge,
        ("printer",),
    ),
    (
        metrics.PUSH_DEADLINE,
        "edgeward_printer_push_deadline_timestamp_seconds",
        Gauge,
        ("printer",),
    ),
    (
        metrics.SERVED_NOT_AFTER,
        "edgeward_printer_served_not_after_timestamp_seconds",
        Gauge,
        ("printer",),
    ),
    (metrics.REACHABLE, "edgeward_printer_reachable", Gauge, ("printer",)),
    (metrics.IN_SYNC, "edgeward_printer_in_sync", Gauge, ("printer",)),
    (metrics.LAST_CHECK, "edgeward_printer_last_check_timestamp_seconds", Gauge, ("printer",)),
]


@pytest.mark.parametrize(("metric", "name", "kind", "labels"), TABLE, ids=[t[1] for t in TABLE])
def test_declared_once_with_its_name_and_labels(
    metric: MetricWrapperBase, name: str, kind: type, labels: tuple[str, ...]
) -> None:
    assert isinstance(metric, kind)
    assert metric._name == name
    assert metric._labelnames == labels
    assert metric._documentation  # HELP text a dashboard reader sees


def test_every_module_level_metric_is_in_the_table() -> None:
    declared = {v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)}
    assert declared == {t[0] for t in TABLE}


@pytest.mark.parametrize("kind", [ErrorKind.WRONG_PASSWORD, ErrorKind.REBOOT_TIMEOUT])
def test_a_failure_kind_is_a_result_label_in_the_exposition(kind: ErrorKind) -> None:
    metrics.PUSH_TOTAL.labels("metrics-test", kind).inc()
    text = generate_latest(REGISTRY).decode()
    line = f'edgeward_printer_push_total{{printer="metrics-test",result="{kind.value}"}}'
    assert line in text
