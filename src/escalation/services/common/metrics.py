"""A Prometheus registry per service, and the metrics every service shares.

Names follow Prometheus conventions (``escalation_`` prefix, base units, ``_total`` on
counters) and labels stay bounded: no customer, issue, event or escalation id is ever a
label value; owners, teams, targets, sources and categories come from the policy or the
token list and pass through ``BoundedLabel`` all the same. docs/metrics.md lists every
metric (a test compares it with the live registries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from escalation import __version__

from .lag import ConsumerLag

OTHER = "other"


class BoundedLabel:
    """Label values kept to a fixed set: the first ``limit`` distinct values, then ``other``.

    Owners, teams and categories come from the policy or the upstream's vocabulary and
    are few; the cap keeps a runaway upstream from growing a series per value anyway.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "none"
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


class Children:
    """A labelled metric's children, each looked up once: ``labels()`` checks, converts
    and locks on every call (1-2 us), which a per-input counter pays for each input.
    Only for bounded label values, on metrics whose children are never removed."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self.metric = metric
        self.known: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.known.get(values)
        if child is None:
            child = self.known[values] = self.metric.labels(*values)
        return child


def observe_many(child: Any, amount: float, count: int) -> None:
    """``child.observe(amount)`` ``count`` times, in one step: the same sum, count and
    bucket as the loop, for a batch whose every message gets the same share of its time.

    prometheus_client has no bulk observe; this adds to the child's sum and its one
    bucket directly, as ``Histogram.observe`` does once per call (its values lock
    themselves). Pinned by a test against the loop on the installed version.
    """
    if count <= 0:
        return
    child._sum.inc(amount * count)
    for bucket, bound in zip(child._buckets, child._upper_bounds, strict=True):
        if amount <= bound:
            bucket.inc(count)
            return


class ServiceMetrics:
    """Metrics shared by every service; each service adds its own to ``registry``."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        build = Gauge(
            "escalation_build_info",
            "Build of the running service.",
            ["service", "version"],
            registry=self.registry,
        )
        build.labels(service, __version__).set(1)
        self.consumed = Counter(
            "escalation_messages_consumed_total",
            "Messages read from a topic.",
            ["topic"],
            registry=self.registry,
        )
        self.produced = Counter(
            "escalation_messages_produced_total",
            "Messages written to a topic.",
            ["topic"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "escalation_dead_letters_total",
            "Poison messages sent to a DLQ, by reason.",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "escalation_duplicates_total",
            "Inputs recognised as duplicates and skipped.",
            ["topic"],
            registry=self.registry,
        )
        self.processing_seconds = Histogram(
            "escalation_processing_seconds",
            "Time to process one message.",
            ["topic"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )

        self.broker_up = Gauge(
            "escalation_broker_up",
            "1 while the broker answered this service's last metadata probe, else 0.",
            registry=self.registry,
        )

    def track_lag(self, source: Callable[[], Mapping[tuple[str, int], int]]) -> None:
        """Export ``escalation_consumer_lag`` from ``source`` at every scrape."""
        self.registry.register(ConsumerLag(source))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
