"""The customer never reports twice: reopen, follow-up, unhappy surveys, new episodes."""

import pytest
from tests.unit.escalator_world import Issue
from tests.unit.factories import T0, hours, routed

from escalation.schemas import EscalationSettings
from escalation.services.escalator.timers import next_due

SETTINGS = EscalationSettings(
    reopen_window_seconds=7 * 86400, followup_after_seconds=2 * 86400, reopen_sentiment=-0.6
)
RESOLVED_AT = T0 + hours(2)


def resolved() -> Issue:
    issue = Issue()
    issue.contact(routed("a", T0, urgency="critical", escalation=SETTINGS))
    issue.command("resolve", at=RESOLVED_AT, cause="usage")
    return issue


def later(event_id, after, **fields):
    fields.setdefault("escalation", SETTINGS)
    return routed(event_id, RESOLVED_AT + after, owner="dana", **fields)


def test_a_contact_inside_the_window_reopens_the_same_escalation_with_the_same_owner():
    issue = resolved()
    first = issue.state.escalation_id
    reopened = issue.contact(later("b", hours(24)))
    assert reopened.outcome == "reopened"
    assert issue.state.escalation_id == first
    assert issue.state.owner == "chen"  # not the router's choice for this contact
    assert [e.type for e in reopened.escalations] == ["reopened", "paged"]
    assert reopened.escalations[0].reason == (
        "reopened.contact: 1d after resolution, within the 7d reopen window"
    )
    assert reopened.pages[0].reason.endswith("paging owner chen")
    # It counts toward the repeat threshold like any contact on the issue.
    assert [m.event_id for m in issue.state.contacts] == ["a", "b"]
    assert issue.state.escalation_contacts == ["a", "b"]


def test_a_contact_after_the_window_starts_a_new_episode():
    issue = resolved()
    first = issue.state.escalation_id
    decision = issue.contact(later("b", hours(24 * 8)))
    assert decision.outcome == "recorded"
    assert issue.state.status is None and issue.state.escalation_id is None
    assert issue.state.owner == "dana"  # a new episode is routed afresh
    assert [m.event_id for m in issue.state.contacts] == ["b"]  # old contacts left behind
    again = issue.contact(later("c", hours(24 * 8 + 1), urgency="critical"))
    assert again.outcome == "opened"
    assert issue.state.escalation_id != first and issue.state.escalation_id.endswith(".2")


def test_follow_up_is_due_the_configured_delay_after_resolution_once():
    issue = resolved()
    assert next_due(issue.state) == RESOLVED_AT + hours(48)
    fired = issue.run_until(RESOLVED_AT + hours(24 * 5))
    assert [d.outcome for d in fired] == ["followup"]
    event = fired[0].escalations[0]
    assert event.type == "followup_due" and event.cause_id == "followup:0"
    assert event.reason == "followup.due: resolved 2d ago; check back with the customer"
    assert fired[0].pages == [] and next_due(issue.state) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"channel": "survey", "csat": 2}, "reopened.csat: CSAT 2 after resolution"),
        ({"channel": "survey", "csat": 1, "sentiment": 0.1}, "reopened.csat: CSAT 1 after"),
        ({"channel": "chat", "sentiment": -0.8}, "reopened.sentiment: sentiment -0.8 after"),
    ],
)
def test_an_unhappy_answer_reopens_and_pages_the_owner_s_team_even_after_the_window(fields, reason):
    issue = resolved()
    reopened = issue.contact(later("survey-1", hours(24 * 20), **fields))
    assert reopened.outcome == "reopened"
    assert reopened.escalations[0].reason.startswith(reason)
    assert reopened.pages[0].reason.endswith("paging team service-engineers")
    assert issue.state.owner == "chen"


@pytest.mark.parametrize(
    "fields", [{"channel": "survey", "csat": 5}, {"channel": "survey"}, {"csat": 3}]
)
def test_a_satisfied_survey_answer_does_not_reopen(fields):
    issue = resolved()
    decision = issue.contact(later("survey-1", hours(24), **fields))
    assert decision.outcome == "recorded" and decision.pages == []
    assert issue.state.status == "resolved"


def test_a_contact_that_happened_before_the_resolution_does_not_reopen():
    issue = resolved()
    late_email = routed("late", RESOLVED_AT - hours(1), escalation=SETTINGS)
    decision = issue.contact(late_email, at=RESOLVED_AT + hours(1))
    assert decision.outcome == "recorded" and issue.state.status == "resolved"


def test_reopening_disabled_by_the_route_starts_a_new_episode_at_once():
    settings = EscalationSettings(reopen_window_seconds=None)
    issue = Issue()
    issue.contact(routed("a", T0, urgency="critical", escalation=settings))
    issue.command("resolve", at=RESOLVED_AT)
    assert issue.contact(routed("b", RESOLVED_AT + hours(1), escalation=settings)).outcome == (
        "recorded"
    )
    assert issue.state.status is None


def test_a_reopened_escalation_pages_up_its_snapshot_ladder_again():
    from escalation.schemas import LadderStep

    settings = EscalationSettings(ladder=[LadderStep(after_seconds=1800, notify="team")])
    issue = Issue()
    issue.contact(routed("a", T0, urgency="critical", escalation=settings))
    issue.command("ack", at=T0 + hours(0.1))
    issue.command("resolve", at=RESOLVED_AT)
    issue.contact(routed("b", RESOLVED_AT + hours(5)))
    assert issue.state.status == "reopened"
    assert next_due(issue.state) == RESOLVED_AT + hours(5.5)
    issue.run_until(RESOLVED_AT + hours(6))
    triggers = [(p.level, p.reason.split(":")[0]) for p in issue.pages if p.action == "trigger"]
    assert triggers == [(1, "urgency.critical"), (1, "reopened.contact"), (2, "ladder.step")]
    assert len({p.page_id for p in issue.pages}) == len(issue.pages)


def test_every_cycle_of_reopen_ack_resolve_pages_with_ids_of_its_own():
    issue = resolved()
    for n in range(1, 4):
        start = RESOLVED_AT + hours(24 * n)
        assert issue.contact(later(f"again-{n}", hours(24 * n))).outcome == "reopened"
        issue.command("ack", at=start + hours(1), eta=start + hours(3))
        issue.command("resolve", at=start + hours(2), cause="defect")
        assert issue.state.cycle == n
    actions = [p.action for p in issue.pages]
    assert actions == ["trigger", "resolve"] + ["trigger", "acknowledge", "resolve"] * 3
    assert len({p.page_id for p in issue.pages}) == len(issue.pages)
    # Each cycle's eta was met by its resolve: nothing stepped.
    assert not [e for e in issue.events if e.type == "stepped"]


def test_a_reopening_contact_with_a_deadline_arms_it():
    from datetime import timedelta

    issue = resolved()
    deadline = RESOLVED_AT + hours(30)
    issue.contact(later("b", hours(24), deadline=deadline.isoformat()))
    assert issue.state.status == "reopened"
    assert issue.state.deadline_due == deadline - timedelta(hours=1)
