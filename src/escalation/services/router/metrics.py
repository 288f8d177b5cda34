"""The router's own metrics, beside the ones every service has."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from escalation.schemas import ContactEvent, Routing
from escalation.services.common.lag import lag_of
from escalation.services.common.metrics import BoundedLabel

OWN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)


def choice_of(routing: Routing) -> str:
    """How the owner came about: a fresh choice, the issue's sticky owner, a reassignment
    (the owner left), or the route's fallback (nobody eligible)."""
    if routing.fallback:
        return "fallback"
    if routing.sticky:
        return "sticky"
    if routing.reassigned_from:
        return "reassigned"
    return "chosen"


class RouterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.routed = Counter(
            "escalation_routed_total",
            "Contacts routed, by route, how the owner was chosen (chosen, sticky, "
            "reassigned, fallback) and the owner (a policy owner, never a customer).",
            ["route", "choice", "owner"],
            registry=registry,
        )
        self.time_to_own = Histogram(
            "escalation_time_to_own_seconds",
            "From a contact's occurred_at to the router naming its issue's owner (first "
            "contacts and reassignments; a sticky owner was named before).",
            ["route"],
            registry=registry,
            buckets=OWN_BUCKETS,
        )
        self.owners = BoundedLabel()
        self.children: dict[tuple[str, str, str], Any] = {}
        self.own_children: dict[str, Any] = {}
        self.committed: dict[tuple[str, int], int] = {}

    def routed_one(self, contact: ContactEvent, routing: Routing, now: datetime) -> str:
        """Count one routed contact; its choice, for the log."""
        choice = choice_of(routing)
        key = (routing.route, choice, self.owners(routing.owner))
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = self.routed.labels(*key)
        child.inc()
        if choice != "sticky":
            waited = (now - contact.occurred_at).total_seconds()
            own = self.own_children.get(routing.route)
            if own is None:
                own = self.own_children[routing.route] = self.time_to_own.labels(routing.route)
            own.observe(max(0.0, waited))
        return choice

    def fetched(self, topic: str, partition: int, first_offset: int) -> None:
        """Before the first commit of a partition, its lag counts from what was fetched."""
        self.committed.setdefault((topic, partition), first_offset)

    def commit(self, offsets: dict[Any, int]) -> None:
        self.committed.update({(tp.topic, tp.partition): at for tp, at in offsets.items()})

    def lag(self, consumer: Any) -> dict[tuple[str, int], int]:
        held = {(tp.topic, tp.partition): consumer.highwater(tp) for tp in consumer.assignment()}
        return lag_of(held, self.committed)
