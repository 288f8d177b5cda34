"""The escalator's own metrics, beside the ones every service has."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EscalatorMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        pending: Callable[[], int],
        surges: Callable[[], int] = lambda: 0,
        silences: Callable[[], int] = lambda: 0,
    ) -> None:
        self.outcomes = Counter(
            "escalation_escalator_outcomes_total",
            "What each input did to its issue (input: contact, command, tick); a command "
            "naming an escalation the issue never had is outcome=unknown.",
            ["input", "outcome"],
            registry=registry,
        )
        self.lifecycle = Counter(
            "escalation_lifecycle_events_total",
            "Escalation lifecycle events emitted.",
            ["type"],
            registry=registry,
        )
        self.lateness = Histogram(
            "escalation_escalator_timer_lateness_seconds",
            "How long after its deadline a tick fired it (the earliest deadline it fired).",
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.ticks_sent = Counter(
            "escalation_escalator_ticks_sent_total",
            "Ticks the timer task sent for issues whose deadline passed.",
            registry=registry,
        )
        timers = Gauge(
            "escalation_escalator_timers",
            "Issues of the held partitions with a deadline pending.",
            registry=registry,
        )
        timers.set_function(pending)
        self.rebuild_seconds = Histogram(
            "escalation_escalator_timer_rebuild_seconds",
            "Time to rebuild the deadline index from the table after a recovery.",
            registry=registry,
            buckets=(0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        open_surges = Gauge(
            "escalation_escalator_surges_open",
            "Open surges in this worker's controls view: their products' pages are held.",
            registry=registry,
        )
        open_surges.set_function(surges)
        active_silences = Gauge(
            "escalation_escalator_silences_active",
            "Silences made through the API in force now, in this worker's controls view.",
            registry=registry,
        )
        active_silences.set_function(silences)
