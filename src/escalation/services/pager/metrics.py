"""The pager's own metrics, beside the ones every service has."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from escalation.services.common.metrics import Children


class PagerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "escalation_page_attempts_total",
            "Delivery attempts by target and result reason.",
            ["target", "reason"],
            registry=registry,
        )
        self.delivered = Counter(
            "escalation_pages_delivered_total",
            "Pages delivered, by target and action.",
            ["target", "action"],
            registry=registry,
        )
        self.failed = Counter(
            "escalation_pages_failed_total",
            "Pages a target could not take (dead-lettered), by target and reason.",
            ["target", "reason"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "escalation_page_fallbacks_total",
            "Pages sent to a fallback target, by the target that failed.",
            ["target"],
            registry=registry,
        )
        self.latency = Histogram(
            "escalation_page_delivery_seconds",
            "From page request to delivery.",
            ["target"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.backlog = Gauge(
            "escalation_page_backlog",
            "Pages waiting or in delivery, per target.",
            ["target"],
            registry=registry,
        )
        self.circuit = Gauge(
            "escalation_page_circuit_open",
            "1 while a target's circuit is open (or half-open), else 0.",
            ["target"],
            registry=registry,
        )
        self.expired = Counter(
            "escalation_pager_records_expired_total",
            "Delivered-page records dropped after the horizon.",
            registry=registry,
        )
        self.booked = Counter(
            "escalation_page_outcomes_booked_total",
            "Delivery outcomes written to escalations.v1 with the pager's table after them.",
            registry=registry,
        )
        # The children a page's delivery touches, looked up once per label values
        # (targets come from the policy; reasons and actions are fixed sets).
        self.attempt = Children(self.attempts)
        self.delivery = Children(self.delivered)
        self.delay = Children(self.latency)
        self.waiting = Children(self.backlog)
        self.open = Children(self.circuit)
