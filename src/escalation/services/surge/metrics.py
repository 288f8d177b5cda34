"""The surge service's own metrics, beside the ones every service has."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class SurgeMetrics:
    def __init__(self, registry: CollectorRegistry, open_surges: Callable[[], int]) -> None:
        self.outcomes = Counter(
            "escalation_surge_outcomes_total",
            "What each report or close tick did to its product (counted, opened, updated, "
            "joined, closed, old, stale, early).",
            ["outcome"],
            registry=registry,
        )
        self.lifecycle = Counter(
            "escalation_surge_events_total",
            "Surge records written to surges.v1, by type.",
            ["type"],
            registry=registry,
        )
        gauge = Gauge(
            "escalation_surge_open",
            "Surges open in the products this worker holds.",
            registry=registry,
        )
        gauge.set_function(open_surges)
