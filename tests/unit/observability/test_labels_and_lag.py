"""Bounded label values and consumer lag, the two figures every service shares."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from escalation.services.common.faust_monitor import PrometheusMonitor
from escalation.services.common.lag import lag_of
from escalation.services.common.metrics import BoundedLabel, ServiceMetrics


def test_a_label_keeps_its_first_values_and_folds_the_rest_into_other():
    owners = BoundedLabel(limit=2)
    assert [owners(v) for v in ("ann", "bob", "cy", "ann", None)] == [
        "ann",
        "bob",
        "other",
        "ann",
        "none",
    ]


def test_lag_is_the_high_watermark_less_the_commit_for_partitions_with_both():
    ends = {("contacts.v1", 0): 120, ("contacts.v1", 1): None, ("contacts.v1", 2): 5}
    committed = {("contacts.v1", 0): 100, ("contacts.v1", 1): 3, ("contacts.v1", 2): 9}
    assert lag_of(ends, committed) == {("contacts.v1", 0): 20, ("contacts.v1", 2): 0}


def test_the_faust_monitor_answers_lag_from_what_faust_tells_it():
    from faust.types import TP

    monitor = PrometheusMonitor(CollectorRegistry())
    monitor.track_tp_end_offset(TP("pages.v1", 1), 50)
    monitor.on_tp_commit({TP("pages.v1", 1): 42})
    assert monitor.lag() == {("pages.v1", 1): 8}


def test_lag_is_exported_per_topic_and_partition():
    metrics = ServiceMetrics("router")
    metrics.track_lag(lambda: {("contacts.v1", 3): 7})
    text = generate_latest(metrics.registry).decode()
    assert 'escalation_consumer_lag{partition="3",topic="contacts.v1"} 7.0' in text
