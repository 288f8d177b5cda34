"""What a policy would have done with recorded contacts: routing and escalation, replayed.

The live code runs over the events in file order, each at its own ``occurred_at``
(never the wall clock): ``RoutingEngine.decide`` with the router's own ``Ownership``
state (sticky owners, loads, capacity released after ``release_after``, issues forgotten
after the policy's ``ownership.forget_after``) over an in-memory store, and the
escalator's ``decide_contact``. It matches a live router with one partition event for
event; with several partitions the live router counts loads per partition it holds and
interleaves partitions, so least-loaded choices can differ (docs/policy.md).

Recorded commands (acks, resolves, reopens, reassignments) go through ``decide_command``
at their ``at``, and the escalator's timers fire as a scanner with no lateness would:
before each input, every deadline due by the input's own time is ticked at its due time,
so ladder levels, ack timeouts, missed commitments, deadlines and follow-ups are
replayed too. A history out of time order fires a deadline at the first input recorded
after it (the demo's, written story by story, is one).

After inhibition by surges, every decision goes through the escalator's holds with the
policy file's silences, maintenance windows and quiet hours (``silence_replay.py``), in
the order the live escalator applies them, so held pages wait, are released by the
replayed timers, or are dropped, as live.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from escalation.policy import LoadedPolicy, PolicyRoster, RoutingEngine
from escalation.schemas import (
    ContactEvent,
    EscalationCommand,
    Routing,
    issue_state_key,
    parse_escalation_id,
)
from escalation.schemas.state import ACTIVE, IssueState
from escalation.schemas.surge import SurgeEvent
from escalation.services.common.changelog_store import PartitionStore
from escalation.services.escalator.inhibit import inhibit
from escalation.services.escalator.rules import Decision, decide_command, decide_contact
from escalation.services.escalator.surges import decide_surge
from escalation.services.escalator.timers import decide_tick, next_due, tick_for
from escalation.services.router.ownership import Ownership
from escalation.silence_replay import SilenceReplay
from escalation.surge_replay import SurgeReplay

PARTITION = 0
"""Replay holds every issue in one partition, as a single live router partition does."""
SWEEP_EVERY = timedelta(days=1)
"""How often, in event time, forgotten issues are swept (the live router: each minute)."""


ESCALATING = frozenset({"opened", "stepped", "reopened"})
"""Records that start or raise an escalation: counted as escalations by reason and level."""


@dataclass
class Outcome:
    routing: Routing
    escalations: list[str] = field(default_factory=list)
    """Reasons of the escalations this contact opened or reopened."""
    pages: int = 0
    duplicate: bool = False


def _kind(reason: str) -> str:
    return reason.split(":")[0]


@dataclass
class Tally:
    contacts: Counter[tuple[str, str]] = field(default_factory=Counter)
    escalations: Counter[tuple[str, str]] = field(default_factory=Counter)
    pages: Counter[tuple[str, str]] = field(default_factory=Counter)
    commands: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        routing = outcome.routing
        keys = [("route", routing.route), ("owner", routing.owner)]
        if routing.fallback:
            keys.append(("choice", "fallback"))
        for key in keys:
            self.contacts[key] += 1
            self.escalations[key] += len(outcome.escalations)
            self.pages[key] += outcome.pages

    def effects(self, decision: Decision) -> None:
        """Escalations and pages by reason and level, whatever input caused them."""
        for record in decision.escalations:
            if record.type in ESCALATING:
                self.escalations[("reason", _kind(record.reason))] += 1
                self.escalations[("level", str(record.level))] += 1
        for page in decision.pages:
            if page.action == "trigger":
                self.pages[("reason", _kind(page.reason))] += 1
                self.pages[("level", str(page.level))] += 1


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
        self.roster = PolicyRoster(loaded)
        self.timers: list[tuple[datetime, int, bytes, int]] = []
        """(due, order, issue key, state version): the scanner's view, as a heap."""
        self.order = count()
        self.tally = Tally()
        self.surges = SurgeReplay(loaded)
        self.holds = SilenceReplay(loaded)
        self.fed = 0
        self.swept: datetime | None = None

    def feed(self, event: ContactEvent) -> Outcome:
        now = event.occurred_at
        self._sweep_when_due(now)
        self.advance(now)
        key = issue_state_key(event.customer.id, event.issue_id)
        current = self.ownership.assignment(PARTITION, key)
        decision = self.engine.decide(event, now, current, self.ownership)
        if decision.duplicate:
            return Outcome(decision.routing, duplicate=True)
        self.ownership.record(PARTITION, key, decision)
        before = self.issues.get(key)
        escalation = decide_contact(before, event, decision.routing, now, self.roster)
        escalation = self._inhibited(escalation, now, event)
        escalation = self.holds.apply(before, escalation, now, event, decision.routing.route)
        self._keep(key, escalation.state)
        self._surged(self.surges.report(event, decision.routing.route, now), now)
        raised = [e.reason for e in escalation.escalations if e.type in ("opened", "reopened")]
        triggers = sum(p.action == "trigger" for p in escalation.pages)
        outcome = Outcome(decision.routing, raised, triggers)
        self.tally.add(outcome)
        if escalation.escalations:
            self.tally.effects(escalation)
        self.fed += 1
        return outcome

    def command(self, command: EscalationCommand) -> Decision:
        """A recorded ack, resolve, reopen or reassignment, at its own time."""
        self.advance(command.at)
        ref = parse_escalation_id(command.escalation_id)
        key = issue_state_key(ref.customer_id, ref.issue_id)
        before = self.issues.get(key)
        decision = decide_command(before, command, command.at, self.roster)
        decision = self.holds.apply(before, decision, command.at)
        self._keep(key, decision.state)
        self.tally.commands[(command.action, decision.outcome)] += 1
        self.tally.effects(decision)
        return decision

    def advance(self, now: datetime) -> None:
        """Fire every deadline due by ``now``, each at its due time."""
        while self.timers and self.timers[0][0] <= now:
            _, _, key, version = heapq.heappop(self.timers)
            state = self.issues.get(key)
            if state is None or state.version != version:
                continue  # superseded: the state moved on and scheduled its own
            tick = tick_for(state)
            if tick is None:
                continue
            decision = decide_tick(state, tick, tick.due, self.roster)
            decision = self._inhibited(decision, tick.due)
            decision = self.holds.apply(state, decision, tick.due)
            self._keep(key, decision.state)
            self.tally.effects(decision)
        self._surged(self.surges.due(now), now)

    def _inhibited(
        self, decision: Decision, now: datetime, contact: ContactEvent | None = None
    ) -> Decision:
        """As a live escalator worker holding the same controls would decide."""
        decision = inhibit(decision, self.surges.controls, now, self.roster, contact)
        state = decision.state
        held = sum(
            r.type == "held" and r.reason.startswith("surge.held") for r in decision.escalations
        )
        if held and state is not None and state.surge is not None:
            self.surges.held(state.surge.id, held)
        return decision

    def _surged(self, events: list[SurgeEvent], now: datetime) -> None:
        """Each surge record through the escalator; a close releases the issues it held."""
        for event in events:
            key = issue_state_key(event.customer_id, event.issue_id)
            before = self.issues.get(key)
            decision = decide_surge(before, event, event.at, self.roster)
            decision = self.holds.apply(before, decision, event.at)
            self._keep(key, decision.state)
            self.tally.effects(decision)
            if event.type != "surge.closed":
                continue
            for held_key, state in list(self.issues.items()):
                if (
                    state.surge is not None
                    and state.surge.held
                    and state.surge.id == event.surge_id
                ):
                    released = self._inhibited(Decision(state), event.at)
                    released = self.holds.apply(state, released, event.at)
                    self._keep(held_key, released.state)
                    self.tally.effects(released)

    def _keep(self, key: bytes, state: IssueState | None) -> None:
        if state is None:
            return
        before = self.issues.get(key)
        self.issues[key] = state
        if before is None or before.version != state.version:
            due = next_due(state)
            if due is not None:
                heapq.heappush(self.timers, (due, next(self.order), key, state.version))

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
            if v.updated_at is None
            or v.updated_at >= horizon
            or v.status in ACTIVE
            or next_due(v) is not None
        }


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)
