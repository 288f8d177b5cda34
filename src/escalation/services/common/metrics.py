"""A Prometheus registry per service, and the metrics every service shares."""

from __future__ import annotations

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

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
