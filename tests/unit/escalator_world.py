"""A fake clock and roster to drive one issue through the escalator's pure decisions.

``Issue.run_until(t)`` does what the timer scanner does, at zero lateness: whenever the
state's next deadline has passed it sends ``tick_for(state)`` at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

from escalation.schemas import (
    EscalationCommand,
    EscalationEvent,
    PageRequest,
    RoutedContact,
    page_id_for,
)
from escalation.schemas.state import IssueState
from escalation.services.escalator.rules import Decision, decide_command, decide_contact
from escalation.services.escalator.timers import decide_tick, tick_for
from tests.unit.factories import T0


@dataclass
class FakeRoster:
    """Schedules as (start, person) handoffs; owners with authority, teams and targets."""

    rota: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    owners: dict[str, tuple[int, list[str]]] = field(
        default_factory=lambda: {
            "chen": (2, ["service-engineers"]),
            "dana": (2, ["service-engineers"]),
            "ana": (1, ["front-line"]),
            "grace": (4, ["vip-desk"]),
        }
    )

    def on_call(self, schedule_id: str, at: datetime) -> list[str]:
        people = [person for start, person in self.rota.get(schedule_id, []) if start <= at]
        return people[-1:]

    def owner_targets(self, owner_id: str) -> list[str]:
        return [f"{owner_id}-phone"] if owner_id in self.owners else []

    def team_targets(self, team_id: str) -> list[str]:
        return [f"{team_id}-hook"]

    def authority(self, owner_id: str) -> int | None:
        return self.owners[owner_id][0] if owner_id in self.owners else None

    def teams(self, owner_id: str) -> list[str]:
        return self.owners[owner_id][1] if owner_id in self.owners else []


@dataclass
class Issue:
    roster: FakeRoster | None = field(default_factory=FakeRoster)
    state: IssueState | None = None
    now: datetime = T0
    decisions: list[Decision] = field(default_factory=list)
    ids: count = field(default_factory=lambda: count(1))

    def _apply(self, decision: Decision) -> Decision:
        self.state = decision.state
        self.decisions.append(decision)
        return decision

    def contact(self, contact: RoutedContact, at: datetime | None = None) -> Decision:
        self.run_until(at or contact.occurred_at)
        return self._apply(
            decide_contact(self.state, contact, contact.routing, self.now, self.roster)
        )

    def command(self, action: str, at: datetime | None = None, **fields) -> Decision:
        if at is not None:
            self.run_until(at)
        assert self.state is not None and self.state.escalation_id is not None
        command = EscalationCommand(
            command_id=fields.pop("command_id", f"cmd-{next(self.ids)}"),
            action=action,
            escalation_id=fields.pop("escalation_id", self.state.escalation_id),
            customer_id=self.state.customer_id,
            at=self.now,
            by=fields.pop("by", "chen"),
            **fields,
        )
        return self._apply(decide_command(self.state, command, self.now, self.roster))

    def run_until(self, moment: datetime) -> list[Decision]:
        fired = []
        while self.state is not None and (tick := tick_for(self.state)) and tick.due <= moment:
            self.now = max(self.now, tick.due)
            fired.append(self._apply(decide_tick(self.state, tick, self.now, self.roster)))
        self.now = max(self.now, moment)
        return fired

    @property
    def pages(self) -> list[PageRequest]:
        return [p for d in self.decisions for p in d.pages]

    @property
    def events(self) -> list[EscalationEvent]:
        return [e for d in self.decisions for e in d.escalations]

    def triggers(self) -> list[tuple[datetime, int, int, int]]:
        """(when, level, cycle, loop) of every trigger page, from its id's inputs."""
        return [
            (p.created_at, p.level, self._cycle_loop(p)[0], self._cycle_loop(p)[1])
            for p in self.pages
            if p.action == "trigger"
        ]

    def _cycle_loop(self, page: PageRequest) -> tuple[int, int]:
        for cycle in range(10):
            for loop in range(101):
                if (
                    page_id_for(page.escalation_id, page.level, "trigger", cycle, loop)
                    == page.page_id
                ):
                    return cycle, loop
        raise AssertionError(f"page {page.page_id} has no known cycle and loop")
