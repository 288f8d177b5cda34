"""Follow-up reminders wait for the customer's hours, in the customer's time zone.

Each issue is driven as the escalator drives it (``Held``: a decision, then the holds
with the policy's quiet hours, ticks fired as the clock passes their due time) on a fake
clock: resolved late in the evening, across midnight, and around a change of daylight
saving time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tests.unit.factories import hours, routed
from tests.unit.services.test_escalator_holds import Held

from escalation.policy import PolicyError, parse_policy
from escalation.policy.quiet import QuietRules
from escalation.schemas import EscalationSettings, codec

POLICY = """
version: 1
timezone: America/New_York
owners: [{id: chen, name: Chen, teams: [eng], authority: 3}]
teams: [{id: eng, name: Engineers}]
routes: [{name: default, team: eng, escalation: {followup_in_customer_hours: true}}]
quiet_hours:
  customer: {hours: [{days: [mon, tue, wed, thu, fri, sat], start: "09:00", end: "20:00"}]}
"""


def settings(after: timedelta, asks: bool = True) -> EscalationSettings:
    return EscalationSettings(
        repeat_threshold=1,
        followup_after_seconds=int(after.total_seconds()),
        followup_in_customer_hours=asks,
    )


def resolved(at: datetime, after: timedelta, zone: str | None, asks: bool = True) -> Held:
    """An issue opened an hour before ``at`` and resolved at ``at``."""
    issue = Held(quiet=QuietRules(parse_policy(POLICY, now=at)), now=at - hours(1))
    customer = {"id": "C-7", "tier": "standard"} | ({"timezone": zone} if zone else {})
    issue.contact(
        routed(
            at=at - hours(1),
            urgency="critical",
            escalation=settings(after, asks),
            customer=customer,
        )
    )
    issue.command("resolve", at)
    return issue


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_follow_up_due_at_night_waits_for_the_customer_s_morning_across_midnight() -> None:
    issue = resolved(local("2026-11-24T22:30:00+01:00"), timedelta(days=1), "Europe/Berlin")
    # Due Wednesday 22:30 in Berlin, after the customer's 20:00: Thursday 09:00 there.
    thursday = local("2026-11-26T09:00:00+01:00")
    assert issue.state.customer_zone == "Europe/Berlin"
    assert issue.state.followup_due == thursday
    issue.run_until(thursday - timedelta(seconds=1))
    assert "followup_due" not in issue.kinds()
    issue.run_until(thursday)
    (reminder,) = [e for d in issue.decisions for e in d.escalations if e.type == "followup_due"]
    assert reminder.at == thursday
    assert reminder.reason == (
        "followup.due: resolved 1d10h30m ago; check back with the customer "
        "(moved into the customer's hours, Europe/Berlin)"
    )


def test_a_follow_up_due_within_the_customer_s_hours_is_not_moved() -> None:
    at = local("2026-11-24T10:00:00+01:00")
    issue = resolved(at, timedelta(days=1), "Europe/Berlin")
    assert issue.state.followup_due == at + timedelta(days=1)
    issue.run_until(at + timedelta(days=1))
    (reminder,) = [e for d in issue.decisions for e in d.escalations if e.type == "followup_due"]
    assert reminder.reason.endswith("check back with the customer")


def test_the_customer_s_hours_follow_their_clock_across_a_change_of_daylight_saving() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026; Sunday is not a contact day.
    issue = resolved(local("2026-10-24T21:00:00+02:00"), hours(1), "Europe/Berlin")
    # Monday 09:00 in Berlin is 08:00 UTC in winter time, not 07:00.
    assert issue.state.followup_due == local("2026-10-26T08:00:00+00:00")


def test_the_same_follow_up_waits_for_a_customer_in_another_zone() -> None:
    at = local("2026-11-24T22:30:00+01:00")  # 16:30 in New York: within its hours
    issue = resolved(at, hours(1), "America/New_York")
    assert issue.state.followup_due == at + hours(1)
    # Without a zone of their own, the policy's (New York) is the customer's.
    assert resolved(at, hours(1), None).state.followup_due == at + hours(1)


def test_a_spring_forward_night_in_new_york_moves_the_morning_by_the_clock() -> None:
    # New York springs forward at 02:00 on Sunday 14 March 2027; Monday 09:00 is EDT.
    issue = resolved(local("2027-03-13T21:00:00-05:00"), hours(1), "America/New_York")
    assert issue.state.followup_due == local("2027-03-15T09:00:00-04:00")


def test_a_route_that_does_not_ask_keeps_no_zone_and_does_not_wait() -> None:
    at = local("2026-11-24T22:30:00+01:00")
    issue = resolved(at, timedelta(days=1), "Europe/Berlin", asks=False)
    assert (
        issue.state.customer_zone is None
        and issue.state.snapshot.followup_in_customer_hours is None
    )
    assert issue.state.followup_due == at + timedelta(days=1)
    encoded = codec.encode(issue.state)
    assert b"customer_zone" not in encoded and b'"h":' not in encoded


def test_asking_for_the_customer_s_hours_needs_them_in_the_policy() -> None:
    text = POLICY.split("quiet_hours:")[0]
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.errors == [
        "routes[0].escalation.followup_in_customer_hours: the customer's hours are not set; "
        "add quiet_hours.customer (hours, in each customer's time zone)"
    ]
