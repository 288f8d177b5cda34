"""Surges and silences (or quiet hours) holding the same issue's pages.

Each issue is driven as the live escalator drives it: a decision, then inhibition by
the open surges (contacts and ticks), then ``apply_holds`` with the silences in force;
a surge's close reaches a held issue as a tick at the close. The rule: while a surge
holds the issue, the surge's hold is the only one; its close pages the current level,
and that page meets the silences and quiet hours in force at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tests.unit.factories import T0, hours, minutes, routed
from tests.unit.services.test_escalator_holds import POLICY, silence
from tests.unit.services.test_escalator_surges import SURGE, control

from escalation.policy import parse_policy
from escalation.policy.quiet import QuietRules
from escalation.schemas import PageRequest, RoutedContact, Tick, page_id_for
from escalation.schemas.silence import Silence
from escalation.schemas.state import IssueState
from escalation.schemas.surge import Control
from escalation.services.escalator.holds import apply_holds
from escalation.services.escalator.inhibit import inhibit
from escalation.services.escalator.rules import Decision, decide_contact
from escalation.services.escalator.timers import decide_tick, tick_for

NIGHT = datetime.fromisoformat("2026-11-25T03:00:00-05:00")
MORNING = datetime.fromisoformat("2026-11-25T08:00:00-05:00")


@dataclass
class Issue:
    controls: dict[str, Control] = field(default_factory=dict)
    silences: list[Silence] = field(default_factory=list)
    quiet: QuietRules | None = None
    state: IssueState | None = None
    now: datetime = T0
    decisions: list[Decision] = field(default_factory=list)

    def _decide(self, before, decision, contact=None, inhibited=True) -> Decision:
        if inhibited:
            decision = inhibit(decision, self.controls, self.now, None, contact)
        decision = apply_holds(before, decision, self.silences, self.quiet, self.now, contact)
        self.state = decision.state or self.state
        self.decisions.append(decision)
        return decision

    def contact(self, contact: RoutedContact) -> Decision:
        self.run_until(contact.occurred_at)
        before = self.state
        made = decide_contact(before, contact, contact.routing, self.now)
        return self._decide(before, made, contact)

    def run_until(self, moment: datetime) -> None:
        while self.state is not None and (tick := tick_for(self.state)) and tick.due <= moment:
            self.now = max(self.now, tick.due)
            self._decide(self.state, decide_tick(self.state, tick, self.now))
        self.now = max(self.now, moment)

    def surge_closes(self, at: datetime) -> Decision:
        """The worker sends each issue the surge held a tick when it sees the close."""
        self.run_until(at)
        self.controls.update(control(SURGE, active=False))
        assert self.state is not None
        tick = Tick(
            customer_id=self.state.customer_id,
            issue_id=self.state.issue_id,
            version=self.state.version,
            due=at,
        )
        return self._decide(self.state, decide_tick(self.state, tick, at))

    @property
    def pages(self) -> list[PageRequest]:
        return [p for d in self.decisions for p in d.pages if p.action == "trigger"]

    def kinds(self, decision: Decision) -> list[str]:
        return [e.type for e in decision.escalations]


def opened(issue: Issue, at: datetime = T0, urgency: str = "high") -> Decision:
    return issue.contact(routed(at=at, urgency=urgency, threshold=1))


def first_page(issue: Issue) -> str:
    assert issue.state is not None and issue.state.escalation_id is not None
    return page_id_for(issue.state.escalation_id, 1, "trigger", 0, 0)


def test_a_surge_and_a_silence_on_one_issue_the_page_waits_for_both() -> None:
    issue = Issue(control(SURGE), [silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    made = opened(issue)
    # The surge holds it: one hold only, the surge's; the silence has nothing to hold.
    assert issue.kinds(made) == ["opened", "held"] and issue.state.hold is None
    closed = issue.surge_closes(T0 + minutes(30))
    # The close pages the held level, and the silence, still in force, holds that page.
    assert issue.kinds(closed) == ["released", "page.held"] and closed.pages == []
    assert issue.state.hold.silence_id == "sil_recall"
    issue.run_until(T0 + hours(2))
    assert [(p.page_id, p.created_at) for p in issue.pages] == [(first_page(issue), T0 + hours(2))]
    issue.run_until(T0 + hours(9))
    assert len(issue.pages) == 1


def test_a_surge_closing_after_the_silence_ended_pages_at_once() -> None:
    issue = Issue(control(SURGE), [silence("sil_short", "product=AC-3000", end=T0 + minutes(10))])
    opened(issue)
    closed = issue.surge_closes(T0 + minutes(30))
    assert [p.page_id for p in closed.pages] == [first_page(issue)]
    assert issue.kinds(closed) == ["released", "paged"]


def test_a_surge_covering_an_issue_takes_over_the_silence_s_hold() -> None:
    issue = Issue(silences=[silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    opened(issue)
    assert issue.state.hold is not None
    issue.controls.update(control(SURGE))  # a surge opens on the product meanwhile
    issue.run_until(T0 + hours(2))  # the silence ends while the surge is open
    assert issue.pages == [] and issue.state.hold is None and issue.state.surge.held
    dropped = [e for d in issue.decisions for e in d.escalations if e.type == "page.dropped"]
    assert [e.reason for e in dropped] == [f"not sent: surge {SURGE} holds the issue's pages"]
    closed = issue.surge_closes(T0 + hours(3))
    assert [p.page_id for p in closed.pages] == [first_page(issue)]


def quiet() -> QuietRules:
    return QuietRules(parse_policy(POLICY, now=T0))


def test_quiet_hours_ending_while_a_surge_is_open_page_nobody_until_it_closes() -> None:
    issue = Issue(quiet=quiet())
    opened(issue, NIGHT, "normal")
    assert issue.state.hold.until == MORNING
    issue.controls.update(control(SURGE))
    issue.run_until(MORNING + hours(1))  # Chen starts work; the surge still holds the issue
    assert issue.pages == [] and issue.state.hold is None
    closed = issue.surge_closes(MORNING + hours(2))  # Chen is at work: paged at once
    assert [(p.page_id, p.created_at) for p in closed.pages] == [
        (first_page(issue), MORNING + hours(2))
    ]


def test_a_surge_closing_at_night_leaves_a_low_page_to_quiet_hours() -> None:
    issue = Issue(control(SURGE), quiet=quiet())
    opened(issue, NIGHT, "normal")
    closed = issue.surge_closes(NIGHT + hours(1))
    assert closed.pages == [] and issue.state.hold.until == MORNING
    issue.run_until(MORNING)
    assert [p.created_at for p in issue.pages] == [MORNING]
