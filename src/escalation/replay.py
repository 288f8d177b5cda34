"""What a policy would have done with recorded contacts: routing and escalation, replayed.

The live code runs over the events in file order, each at its own ``occurred_at``
(never the wall clock): ``RoutingEngine.decide`` with the router's own ``Ownership``
state (sticky owners, loads, capacity released after ``release_after``, issues forgotten
after the policy's ``ownership.forget_after``) over an in-memory store, and the
escalator's ``decide_contact``. It matches a live router with one partition event for
event; with several partitions the live router counts loads per partition it holds and
interleaves partitions, so least-loaded choices can differ (docs/policy.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from escalation.policy import LoadedPolicy, RoutingEngine
from escalation.schemas import ContactEvent, Routing, issue_state_key
from escalation.schemas.state import IssueState
from escalation.services.common.changelog_store import PartitionStore
from escalation.services.escalator.rules import decide_contact
from escalation.services.router.ownership import Ownership

PARTITION = 0
"""Replay holds every issue in one partition, as a single live router partition does."""
SWEEP_EVERY = timedelta(days=1)
"""How often, in event time, forgotten issues are swept (the live router: each minute)."""


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
        store = PartitionStore()
        store.open(PARTITION)
        self.ownership = Ownership(store)
        self.ownership.release_after = self.engine.release_after
        self.forget_after = timedelta(seconds=loaded.policy.ownership.forget_after)
        self.issues: dict[bytes, IssueState] = {}
        windows = [s.repeat_window_seconds for s in self.engine.settings.values()]
        self.horizon = max([self.engine.release_after, *map(_seconds, windows)])
        self.tally = Tally()
        self.fed = 0
        self.swept: datetime | None = None

    def feed(self, event: ContactEvent) -> Outcome:
        now = event.occurred_at
        self._sweep_when_due(now)
        key = issue_state_key(event.customer.id, event.issue_id)
        current = self.ownership.assignment(PARTITION, key)
        decision = self.engine.decide(event, now, current, self.ownership)
        if decision.duplicate:
            return Outcome(decision.routing, duplicate=True)
        self.ownership.record(PARTITION, key, decision)
        escalation = decide_contact(self.issues.get(key), event, decision.routing, now)
        if escalation.state is not None:
            self.issues[key] = escalation.state
        opened = [e.reason for e in escalation.escalations if e.type == "opened"]
        outcome = Outcome(decision.routing, opened, len(escalation.pages))
        self.tally.add(outcome)
        self.fed += 1
        return outcome

    def _sweep_when_due(self, now: datetime) -> None:
        if self.swept is None:
            self.swept = now
        elif now - self.swept >= SWEEP_EVERY:
            self.swept = now
            self.sweep(now)

    def sweep(self, now: datetime) -> None:
        """Forget what the live services forget: idle assignments past ``forget_after``
        (as the router does) and escalation state idle longer than every window."""
        self.ownership.forget_idle(now - self.forget_after)
        horizon = now - self.horizon
        self.issues = {
            k: v
            for k, v in self.issues.items()
            if v.updated_at is None or v.updated_at >= horizon or v.status in ("open", "acked")
        }


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)
