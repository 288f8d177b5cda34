"""Surges in ``policy replay``: the surge service's decisions over a recorded history.

The same pure functions as the live surge service (``services/surge/detect.py``), each
contact seen at its own ``occurred_at``: it counts under every surge rule that matches
it, surges open and take in customers, and close when their quiet time passes (before
the next input, at their due time, as a scanner with no lateness would). The controls a
live escalator worker would hold are kept here as a dict, so the escalator's
inhibition (``services/escalator/inhibit.py``) holds the same pages it would hold live.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

from escalation.policy import LoadedPolicy
from escalation.policy.surges import SurgeRules
from escalation.schemas import ContactEvent
from escalation.schemas.surge import Control, ProductTick, SurgeEvent
from escalation.schemas.surge_state import ProductState
from escalation.services.surge.detect import SurgeDecision, decide_close, decide_report


@dataclass
class SurgeSummary:
    surge_id: str
    rule: str
    by: str
    value: str
    opened_at: datetime
    baseline: float
    closed_at: datetime | None = None
    customers: int = 0
    issues: int = 0
    held_pages: int = 0
    named: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "surge_id": self.surge_id,
            "rule": self.rule,
            "by": self.by,
            "value": self.value,
            "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "baseline": round(self.baseline, 2),
            "customers": self.customers,
            "issues": self.issues,
            "held_pages": self.held_pages,
            "named": self.named[:10],
        }


class SurgeReplay:
    def __init__(self, loaded: LoadedPolicy) -> None:
        self.rules = SurgeRules(loaded)
        self.products: dict[str, ProductState] = {}
        self.controls: dict[str, Control] = {}
        self.closes: list[tuple[datetime, int, str, int]] = []
        self.order = count()
        self.surges: dict[str, SurgeSummary] = {}

    def report(self, contact: ContactEvent, route: str, now: datetime) -> list[SurgeEvent]:
        """Count the contact under every rule that matches it: the surge records it makes."""
        events: list[SurgeEvent] = []
        for report in self.rules.reports(contact, route):
            decision = decide_report(self.products.get(report.key), report, now)
            events += self._keep(decision)
        return events

    def due(self, now: datetime) -> list[SurgeEvent]:
        """Every surge whose quiet time ended by ``now``, closed at that moment."""
        events: list[SurgeEvent] = []
        while self.closes and self.closes[0][0] <= now:
            when, _, key, version = heapq.heappop(self.closes)
            state = self.products.get(key)
            if state is None or state.version != version:
                continue
            tick = ProductTick(key=key, version=version, due=when)
            events += self._keep(decide_close(state, tick, when))
        return events

    def held(self, surge_id: str, pages: int) -> None:
        summary = self.surges.get(surge_id)
        if summary is not None:
            summary.held_pages += pages

    def _keep(self, decision: SurgeDecision) -> list[SurgeEvent]:
        state = decision.state
        self.products[state.key] = state
        if decision.outcome in ("opened", "updated") and state.surge is not None:
            surge = state.surge
            heapq.heappush(
                self.closes, (surge.close_due, next(self.order), state.key, state.version)
            )
        for control in decision.controls:
            self.controls[control.id] = control
        for event in decision.events:
            self._summarize(event)
        return decision.events

    def _summarize(self, event: SurgeEvent) -> None:
        affected = event.affected
        summary = self.surges.get(event.surge_id)
        if summary is None:
            summary = self.surges[event.surge_id] = SurgeSummary(
                event.surge_id,
                affected.rule,
                affected.by,
                affected.value,
                event.opened_at,
                event.baseline,
            )
        summary.customers = affected.customer_count
        summary.issues = affected.issue_count
        summary.named = list(affected.customers)
        if event.type == "surge.closed":
            summary.closed_at = event.at
