"""Deadlines from the customer: not acknowledged by the deadline less the route's lead
time, the issue escalates then, whatever its urgency alone would do."""

from datetime import datetime

import pytest
from tests.unit.escalator_world import Issue
from tests.unit.factories import hours, routed

from escalation.schemas import EscalationSettings
from escalation.services.escalator.timers import next_due

MORNING = datetime.fromisoformat("2026-11-25T07:30:00-05:00")
MEETING = datetime.fromisoformat("2026-11-25T10:00:00-05:00")


def projector(event_id="p1", at=MORNING, lead_hours=1.0, **fields):
    settings = EscalationSettings(deadline_lead_seconds=int(lead_hours * 3600))
    return routed(
        event_id, at, deadline=MEETING.isoformat(), escalation=settings, category="av", **fields
    )


@pytest.mark.parametrize(("lead", "escalates_at"), [(1.0, "09:00"), (2.0, "08:00")])
def test_an_unescalated_issue_escalates_at_its_deadline_less_the_route_s_lead(lead, escalates_at):
    issue = Issue(now=MORNING)
    assert issue.contact(projector(lead_hours=lead)).outcome == "recorded"
    due = next_due(issue.state)
    assert due.astimezone(MEETING.tzinfo).strftime("%H:%M") == escalates_at
    fired = issue.run_until(MEETING)
    assert [d.outcome for d in fired] == ["opened"]
    opened = fired[0]
    assert opened.due == due
    assert [e.type for e in opened.escalations] == ["opened", "paged"]
    assert opened.escalations[0].reason.startswith(
        "deadline.near: the customer needs it by 2026-11-25T15:00:00+00:00"
    )
    assert opened.pages[0].owner == "chen" and opened.pages[0].contacts == ["p1"]
    assert issue.state.deadline_due is None  # fires once


def test_a_deadline_already_inside_the_lead_escalates_at_once():
    issue = Issue(now=MORNING)
    decision = issue.contact(projector(at=datetime.fromisoformat("2026-11-25T09:30:00-05:00")))
    assert decision.outcome == "opened"
    assert decision.pages[0].reason.startswith("deadline.near")


def test_an_open_escalation_not_acknowledged_by_the_deadline_moves_up_a_level():
    issue = Issue(now=MORNING)
    issue.contact(projector(urgency="critical"))
    assert issue.state.level == 1
    fired = issue.run_until(MEETING)
    assert [d.outcome for d in fired] == ["stepped"]
    assert fired[0].escalations[0].reason.startswith("deadline.near")
    assert issue.state.level == 2


def test_an_acknowledged_escalation_does_not_move_at_the_deadline():
    issue = Issue(now=MORNING)
    issue.contact(projector(urgency="critical"))
    issue.command("ack", at=MORNING + hours(0.5))
    assert issue.run_until(MEETING) == []
    assert issue.state.level == 1


def test_a_deadline_on_a_later_contact_counts_too():
    issue = Issue(now=MORNING)
    issue.contact(routed("first", MORNING, category="av"))
    assert next_due(issue.state) is None
    issue.contact(projector("second", at=MORNING + hours(0.25)))
    assert issue.run_until(MEETING)[0].outcome == "opened"


def test_a_deadline_inside_the_lead_on_an_open_escalation_moves_it_up_at_once():
    issue = Issue(now=MORNING)
    issue.contact(routed("p0", MORNING, urgency="critical", category="av"))
    decision = issue.contact(
        projector("p1", at=datetime.fromisoformat("2026-11-25T09:15:00-05:00"))
    )
    assert decision.outcome == "stepped"
    assert [e.type for e in decision.escalations] == ["stepped", "paged"]
    assert decision.escalations[0].reason == (
        "deadline.near: the customer needs it by 2026-11-25T15:00:00+00:00 "
        "and nobody has acknowledged it 1h before"
    )
    assert issue.state.level == 2 and issue.state.deadline_due is None
