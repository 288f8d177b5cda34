"""What a policy would have done with recorded contacts: routing and escalation, replayed.

The same decision code as the live services (``RoutingEngine.decide`` and the
escalator's ``decide_contact``) runs over the events in file order, each at its own
``occurred_at`` (never the wall clock), with state kept in memory and swept of issues
idle longer than any window, so memory stays flat however long the history.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from escalation.policy import LoadedPolicy, RoutingEngine
from escalation.schemas import ContactEvent, Routing
from escalation.schemas.state import Assignment, IssueState
from escalation.services.escalator.rules import decide_contact

SWEEP_EVERY = 50_000


class MemoryLoads:
    """Owner loads as the router counts them (open issues, idle ones released), in memory.

    Expiry is kept in a heap per owner, so a load query costs O(log n) however many
    issues an owner holds in a long history.
    """

    def __init__(self, release_after: timedelta) -> None:
        self.release_after = release_after
        self.issues: dict[str, dict[str, datetime]] = {}
        self.expiry: dict[str, list[tuple[datetime, str]]] = {}
        self.last_assigned: dict[str, datetime] = {}

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]:
        issues = self.issues.get(owner_id, {})
        heap = self.expiry.get(owner_id, [])
        horizon = now - self.release_after
        while heap and heap[0][0] < horizon:
            seen, issue = heapq.heappop(heap)
            if issues.get(issue) == seen:  # not touched since: idle past release_after
                del issues[issue]
        return len(issues), self.last_assigned.get(owner_id)

    def hold(self, owner_id: str, issue: str, assignment: Assignment) -> None:
        issues = self.issues.setdefault(owner_id, {})
        if issue not in issues:
            last = self.last_assigned.get(owner_id)
            if last is None or assignment.assigned_at > last:
                self.last_assigned[owner_id] = assignment.assigned_at
        issues[issue] = assignment.last_contact_at
        heapq.heappush(self.expiry.setdefault(owner_id, []), (assignment.last_contact_at, issue))

    def release(self, owner_id: str, issue: str) -> None:
        self.issues.get(owner_id, {}).pop(issue, None)


@dataclass
class Outcome:
    routing: Routing
    escalations: list[str] = field(default_factory=list)
    """Reasons of the escalations this contact opened."""
    pages: int = 0
    duplicate: bool = False


@dataclass
class Tally:
    contacts: Counter[tuple[str, str]] = field(default_factory=Counter)
    escalations: Counter[tuple[str, str]] = field(default_factory=Counter)
    pages: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        routing = outcome.routing
        keys = [("route", routing.route), ("owner", routing.owner)]
        if routing.fallback:
            keys.append(("choice", "fallback"))
        for key in keys:
            self.contacts[key] += 1
            self.escalations[key] += len(outcome.escalations)
            self.pages[key] += outcome.pages
        for reason in outcome.escalations:
            # Each escalation opens at level 1 with one page (ladders add levels later).
            for key in (("reason", reason.split(":")[0]), ("level", "1")):
                self.escalations[key] += 1
                self.pages[key] += 1


class Simulation:
    """One policy's routing and escalation over a stream of contacts."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        self.engine = RoutingEngine(loaded)
        self.assignments: dict[str, Assignment] = {}
        self.issues: dict[str, IssueState] = {}
        self.loads = MemoryLoads(self.engine.release_after)
        windows = [s.repeat_window_seconds for s in self.engine.settings.values()]
        self.horizon = max([self.engine.release_after, *map(_seconds, windows)])
        self.tally = Tally()
        self.fed = 0

    def feed(self, event: ContactEvent) -> Outcome:
        now = event.occurred_at
        key = f"{event.customer.id}/{event.issue_id}"
        decision = self.engine.decide(event, now, self.assignments.get(key), self.loads)
        if decision.duplicate:
            return Outcome(decision.routing, duplicate=True)
        if decision.released_from is not None:
            self.loads.release(decision.released_from, key)
        self.loads.hold(decision.assignment.owner, key, decision.assignment)
        self.assignments[key] = decision.assignment
        escalation = decide_contact(self.issues.get(key), event, decision.routing, now)
        if escalation.state is not None:
            self.issues[key] = escalation.state
        opened = [e.reason for e in escalation.escalations if e.type == "opened"]
        outcome = Outcome(decision.routing, opened, len(escalation.pages))
        self.tally.add(outcome)
        self.fed += 1
        if self.fed % SWEEP_EVERY == 0:
            self.sweep(now)
        return outcome

    def sweep(self, now: datetime) -> None:
        """Forget issues idle longer than every window and the capacity release time."""
        horizon = now - self.horizon
        self.assignments = {
            k: v for k, v in self.assignments.items() if v.last_contact_at >= horizon
        }
        self.issues = {
            k: v
            for k, v in self.issues.items()
            if v.updated_at is None or v.updated_at >= horizon or v.status in ("open", "acked")
        }


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)
