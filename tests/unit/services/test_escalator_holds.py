"""Held pages: silences and quiet hours hold back, drop, release or supersede pages.

Each issue is driven as the escalator would: a decision, then ``apply_holds`` with the
silences in force; ticks are sent whenever the state's next deadline passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tests.unit.escalator_world import FakeRoster
from tests.unit.factories import T0, hours, minutes, routed

from escalation.policy import parse_policy
from escalation.policy.quiet import QuietRules
from escalation.schemas import (
    EscalationCommand,
    EscalationSettings,
    LadderStep,
    PageRequest,
    RoutedContact,
)
from escalation.schemas.silence import Silence
from escalation.schemas.state import IssueState
from escalation.services.escalator.holds import apply_holds
from escalation.services.escalator.rules import Decision, decide_command, decide_contact
from escalation.services.escalator.timeline import appended
from escalation.services.escalator.timers import decide_tick, tick_for

LADDER = EscalationSettings(
    repeat_threshold=1, ladder=[LadderStep(after_seconds=1800, notify="team")]
)
POLICY = """
version: 1
timezone: America/New_York
owners:
  - {id: chen, name: Chen, teams: [service-engineers], authority: 2,
     hours: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "16:00"}]}
teams: [{id: service-engineers, name: Engineers}]
routes: [{name: default, team: service-engineers}]
quiet_hours: {below: high}
"""


def silence(ident: str, *matchers: str, end: datetime, mode: str = "wait") -> Silence:
    return Silence(
        id=ident, matchers=list(matchers), starts_at=T0 - hours(1), ends_at=end, mode=mode
    )


@dataclass
class Held:
    silences: list[Silence] = field(default_factory=list)
    quiet: QuietRules | None = None
    state: IssueState | None = None
    now: datetime = T0
    decisions: list[Decision] = field(default_factory=list)
    roster: FakeRoster = field(default_factory=FakeRoster)

    def _apply(self, before, decision, contact=None) -> Decision:
        decision = apply_holds(before, decision, self.silences, self.quiet, self.now, contact)
        self.state = decision.state or self.state
        self.decisions.append(decision)
        return decision

    def contact(self, contact: RoutedContact) -> Decision:
        self.run_until(contact.occurred_at)
        before = self.state
        made = decide_contact(before, contact, contact.routing, self.now, self.roster)
        return self._apply(before, made, contact)

    def command(self, action: str, at: datetime) -> Decision:
        self.run_until(at)
        assert self.state is not None and self.state.escalation_id is not None
        command = EscalationCommand(
            command_id=f"cmd-{action}",
            action=action,
            escalation_id=self.state.escalation_id,
            customer_id=self.state.customer_id,
            at=self.now,
            by="chen",
        )
        before = self.state
        return self._apply(before, decide_command(before, command, self.now, self.roster))

    def run_until(self, moment: datetime) -> None:
        while self.state is not None and (tick := tick_for(self.state)) and tick.due <= moment:
            self.now = max(self.now, tick.due)
            before = self.state
            self._apply(before, decide_tick(before, tick, self.now, self.roster))
        self.now = max(self.now, moment)

    @property
    def pages(self) -> list[PageRequest]:
        return [p for d in self.decisions for p in d.pages if p.action == "trigger"]

    def kinds(self) -> list[str]:
        return [e.type for d in self.decisions for e in d.escalations]


def test_a_silenced_escalation_is_recorded_and_its_page_goes_out_once_when_it_ends() -> None:
    issue = Held([silence("sil_recall", 'product="AC-3000"', end=T0 + hours(2))])
    opened = issue.contact(routed(urgency="critical"))
    assert opened.pages == [] and [e.type for e in opened.escalations] == ["opened", "page.held"]
    held = opened.escalations[1]
    assert held.silence_id == "sil_recall" and held.held_until == T0 + hours(2)
    assert issue.state.hold is not None and tick_for(issue.state).due == T0 + hours(2)

    issue.run_until(T0 + hours(2) - minutes(1))
    assert issue.pages == []
    issue.run_until(T0 + hours(2))
    assert [p.page_id for p in issue.pages] == [held.page_id]
    assert issue.pages[0].created_at == T0 + hours(2)
    assert issue.kinds()[-2:] == ["page.released", "paged"]
    assert issue.state.hold is None
    issue.run_until(T0 + hours(10))
    assert len(issue.pages) == 1  # sent once


def test_a_page_the_silence_does_not_match_goes_out_at_once() -> None:
    issue = Held([silence("sil_recall", 'product="AC-4000"', end=T0 + hours(2))])
    opened = issue.contact(routed(urgency="critical"))
    assert len(opened.pages) == 1 and issue.state.hold is None
    assert [e.type for e in opened.escalations] == ["opened", "paged"]


def test_a_drop_silence_drops_the_page_for_good() -> None:
    issue = Held(
        [silence("sil_noise", "customer.tier=standard", end=T0 + minutes(20), mode="drop")]
    )
    opened = issue.contact(routed(urgency="critical", escalation=LADDER))
    assert opened.pages == [] and issue.state.hold is None
    assert [e.type for e in opened.escalations] == ["opened", "page.dropped"]
    assert opened.escalations[1].silence_id == "sil_noise"
    issue.run_until(T0 + hours(3))
    assert [p.level for p in issue.pages] == [2]  # the ladder's next level, after the silence


def test_an_escalation_climbing_while_held_sends_only_its_latest_page() -> None:
    issue = Held([silence("sil_recall", "product=AC-3000", end=T0 + hours(2))], roster=FakeRoster())
    issue.contact(routed(urgency="critical", escalation=LADDER))
    first = issue.state.hold.page
    issue.run_until(T0 + minutes(30))  # level 2 is due: held too, in the first's place
    assert issue.state.hold.page.level == 2
    dropped = [e for d in issue.decisions for e in d.escalations if e.type == "page.dropped"]
    assert [e.page_id for e in dropped] == [first.page_id]
    issue.run_until(T0 + hours(2))
    assert [p.level for p in issue.pages] == [2]


def test_an_acknowledged_escalation_drops_its_held_page() -> None:
    issue = Held([silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    issue.contact(routed(urgency="critical"))
    acked = issue.command("ack", T0 + minutes(10))
    assert [e.type for e in acked.escalations] == ["page.dropped", "acked"]
    assert issue.state.hold is None
    issue.run_until(T0 + hours(3))
    assert issue.pages == []


def test_a_silence_expired_early_releases_the_page_at_the_next_look() -> None:
    wait = silence("sil_recall", "product=AC-3000", end=T0 + hours(2))
    issue = Held([wait])
    issue.contact(routed(urgency="critical", escalation=LADDER))
    issue.silences = [wait.model_copy(update={"ends_at": T0 + minutes(5)})]
    issue.contact(routed("crm-2", at=T0 + minutes(6), urgency="critical", escalation=LADDER))
    assert [p.level for p in issue.pages] == [1]


def test_a_hold_changes_the_version_so_older_ticks_are_stale() -> None:
    issue = Held([silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    plain = Held()
    issue.contact(routed(urgency="critical"))
    plain.contact(routed(urgency="critical"))
    assert issue.state.version != plain.state.version
    replayed = Held([silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    replayed.contact(routed(urgency="critical"))
    assert replayed.state == issue.state  # the same input decides the same


def quiet() -> QuietRules:
    return QuietRules(parse_policy(POLICY, now=T0))


def test_quiet_hours_hold_a_low_page_until_the_owner_starts_work() -> None:
    night = datetime.fromisoformat("2026-11-25T03:00:00-05:00")
    morning = datetime.fromisoformat("2026-11-25T08:00:00-05:00")
    issue = Held(quiet=quiet())
    opened = issue.contact(routed(at=night, urgency="low", escalation=LADDER))
    assert opened.pages == []
    assert (
        opened.escalations[-1].held_until == morning and opened.escalations[-1].silence_id is None
    )
    issue.run_until(morning)
    # The ladder's level 2 fell due at night and took level 1's place; it goes out at 08:00.
    assert [(p.level, p.created_at) for p in issue.pages] == [(2, morning)]


def test_a_high_contact_meanwhile_sends_the_held_page_at_once() -> None:
    night = datetime.fromisoformat("2026-11-25T03:00:00-05:00")
    issue = Held(quiet=quiet())
    issue.contact(routed(at=night, urgency="normal", escalation=LADDER))
    assert issue.pages == [] and issue.state.hold is not None
    issue.contact(routed("crm-2", at=night + minutes(10), urgency="high", escalation=LADDER))
    assert [p.created_at for p in issue.pages] == [night + minutes(10)]
    assert issue.state.urgency == "high" and issue.state.hold is None


def test_high_and_critical_never_wait_for_quiet_hours() -> None:
    night = datetime.fromisoformat("2026-11-25T03:00:00-05:00")
    issue = Held(quiet=quiet())
    assert len(issue.contact(routed(at=night, urgency="critical")).pages) == 1


def test_the_timeline_shows_the_held_page_with_its_silence() -> None:
    issue = Held([silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    opened = issue.contact(routed(urgency="critical"))
    issue.run_until(T0 + hours(2))
    timeline = None
    for decision in issue.decisions:
        timeline = appended(timeline, decision.escalations, decision.pages) or timeline
    shown = [(e.type, e.silence_id, e.page_id) for e in timeline.entries]
    page_id = opened.escalations[1].page_id
    assert shown == [
        ("opened", None, None),
        ("page.held", "sil_recall", page_id),
        ("page.released", None, page_id),
        ("paged", None, page_id),
    ]


def test_a_held_page_is_kept_small_in_the_state() -> None:
    issue = Held([silence("sil_recall", "product=AC-3000", end=T0 + hours(2))])
    issue.contact(routed(urgency="critical", summary="x" * 4000))
    kept = issue.state.hold.page
    assert len(kept.summary) == 280
    issue.run_until(T0 + hours(2))
    assert issue.pages[0].page_id == kept.page_id
