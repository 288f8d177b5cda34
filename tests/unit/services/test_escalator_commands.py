"""Commands under a fake clock: ack with a commitment, resolve with a cause, reopen,
reassign, and commands for escalations that do not exist."""

import pytest
from tests.unit.escalator_world import FakeRoster, Issue
from tests.unit.factories import T0, hours, minutes, routed

from escalation.schemas import EscalationSettings, LadderStep
from escalation.services.escalator.timers import next_due

LADDER = EscalationSettings(
    ladder=[
        LadderStep(after_seconds=1800, notify="team"),
        LadderStep(after_seconds=3600, notify="fallback_team", to="vip-desk"),
    ]
)


def opened(escalation=LADDER, authority=2) -> Issue:
    issue = Issue()
    contact = routed("a", T0, urgency="critical", escalation=escalation, authority=authority)
    assert issue.contact(contact).outcome == "opened"
    return issue


def test_an_ack_with_an_eta_that_passes_re_escalates_one_level_once_and_says_so():
    issue = opened()
    eta = T0 + hours(4)
    acked = issue.command("ack", at=T0 + minutes(10), eta=eta)
    assert acked.escalations[0].eta == eta
    assert acked.escalations[0].reason == f"acked by chen, committed to {eta.isoformat()}"
    assert next_due(issue.state) == eta
    issue.run_until(eta - minutes(1))
    assert [p.level for p in issue.pages if p.action == "trigger"] == [1]
    fired = issue.run_until(eta + minutes(10))
    assert [d.outcome for d in fired] == ["stepped"]  # once: then the ladder runs again
    stepped = fired[0].escalations[0]
    assert stepped.type == "stepped" and stepped.level == 2
    assert stepped.reason.startswith(f"eta.missed: chen committed to {eta.isoformat()}")
    assert fired[0].pages[0].reason.endswith("paging team service-engineers")
    assert issue.state.status == "open" and issue.state.eta is None
    # The ladder continues from level 2, keeping its 30m gap to level 3.
    assert next_due(issue.state) == eta + minutes(30)


def test_an_eta_met_by_resolving_fires_nothing():
    issue = opened()
    issue.command("ack", at=T0 + minutes(5), eta=T0 + hours(2))
    resolved = issue.command("resolve", at=T0 + hours(1), cause="defect")
    assert resolved.escalations[0].cause == "defect"
    assert resolved.escalations[0].reason == "resolved by chen (cause: defect)"
    issue.run_until(T0 + hours(3))
    assert [p.action for p in issue.pages] == ["trigger", "acknowledge", "resolve"]


def test_resolve_without_a_cause_records_other():
    issue = opened()
    assert issue.command("resolve").escalations[0].cause == "other"


def test_a_second_ack_moves_the_commitment_without_paging():
    issue = opened()
    issue.command("ack", eta=T0 + hours(2))
    moved = issue.command("ack", eta=T0 + hours(3))
    assert moved.outcome == "acked" and moved.pages == []
    assert issue.state.eta == T0 + hours(3)
    assert issue.command("ack").outcome == "ignored"


def test_reopen_command_reopens_a_resolved_escalation_in_a_new_cycle():
    issue = opened()
    first = issue.state.escalation_id
    issue.command("resolve")
    reopened = issue.command("reopen", at=T0 + hours(1), by="dana")
    assert reopened.outcome == "reopened"
    assert issue.state.escalation_id == first and issue.state.status == "reopened"
    assert [e.type for e in reopened.escalations] == ["reopened", "paged"]
    assert reopened.escalations[0].reason == "reopened.command: by dana"
    assert reopened.pages[0].page_id != issue.pages[0].page_id  # a new page, not a resend
    assert issue.command("reopen").outcome == "ignored"


def test_reassign_to_an_owner_with_the_authority_pages_the_new_owner():
    issue = opened()
    issue.command("ack", at=T0 + minutes(5))
    moved = issue.command("reassign", to="dana", by="lead")
    assert moved.outcome == "reassigned"
    assert issue.state.owner == "dana" and issue.state.status == "open"
    assert moved.escalations[0].reason == "reassigned: from chen to dana by lead"
    assert moved.pages[0].reason.endswith("paging owner dana")
    assert "dana-phone" in moved.pages[0].targets and "chen-phone" not in issue.state.targets
    # The new owner has acknowledged nothing, so the ladder runs again from this level.
    assert next_due(issue.state) == T0 + minutes(5) + minutes(30)


@pytest.mark.parametrize(
    ("to", "roster", "why"),
    [
        ("ana", FakeRoster(), "ana holds authority 1; the issue needs 2"),
        ("zoe", FakeRoster(), "zoe is not an owner in the policy"),
        ("chen", FakeRoster(), "chen already owns it"),
        (None, FakeRoster(), "reassign names no owner (to)"),
        ("dana", None, "no policy to check the new owner's authority against"),
    ],
)
def test_reassign_is_refused_without_the_authority_the_route_requires(to, roster, why):
    issue = opened()
    issue.roster = roster
    before = issue.state
    refused = issue.command("reassign", to=to)
    assert (refused.outcome, refused.note) == ("refused", why)
    assert refused.pages == [] and refused.escalations == []
    assert issue.state.owner == "chen" and issue.state.version == before.version


def test_a_command_for_an_absent_escalation_is_unknown_and_an_old_one_stale():
    issue = opened()
    current = issue.state.escalation_id
    absent = current[: -len("1")] + "2"
    assert issue.command("ack", escalation_id=absent).outcome == "unknown"
    issue.command("resolve")
    # A contact long after the reopen window starts the issue's second escalation.
    issue.contact(routed("b", T0 + hours(24 * 30), urgency="critical", escalation=LADDER))
    assert issue.state.escalation_id.endswith(".2")
    stale = issue.command("ack", escalation_id=current)
    assert stale.outcome == "stale" and "superseded" in stale.note


def test_a_command_on_an_issue_with_no_state_is_unknown():
    from escalation.schemas import EscalationCommand
    from escalation.services.escalator.rules import decide_command

    command = EscalationCommand(
        command_id="c1",
        action="ack",
        escalation_id="e1.Qy0xMDQy.ffffffffffffffffffffffff.1",
        customer_id="C-1042",
        at=T0,
    )
    assert decide_command(None, command, T0).outcome == "unknown"


def test_a_resent_command_is_a_duplicate():
    issue = opened()
    issue.command("ack", command_id="same")
    again = issue.command("ack", command_id="same", eta=T0 + hours(9))
    assert again.outcome == "duplicate" and issue.state.eta is None
