"""The policy's escalation settings: validation with paths, what routes hand the escalator,
and the snapshot that keeps an escalation in flight on the ladder it opened with."""

from datetime import timedelta

import pytest

from escalation.policy import PolicyError, PolicyRoster, RoutingEngine, parse_policy
from escalation.schemas import LadderStep
from escalation.services.escalator.rules import decide_contact
from escalation.services.escalator.timers import decide_tick, next_due, tick_for
from tests.unit.policy.fixtures import MORNING, POLICY, Loads, event

LADDER = """
escalation:
  ack_timeout: 15m
  ladder:
    - {after: 30m, notify: team}
    - {after: 1h, notify: schedule, schedule: nights, repeat: 2, every: 10m}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value.errors


@pytest.mark.parametrize(
    ("escalation", "expected"),
    [
        (
            "{ladder: [{after: 1h}, {after: 30m}]}",
            "escalation.ladder[1].after: must be later than the step before it",
        ),
        (
            "{ladder: [{after: 1h, repeat: 2}]}",
            "escalation.ladder[0].every: required when repeat is set",
        ),
        (
            "{ladder: [{after: 1h, every: 5m}]}",
            "escalation.ladder[0].repeat: every is set, so say how many further pages (repeat)",
        ),
        (
            "{ladder: [{after: 1h, notify: schedule, schedule: nope}]}",
            "escalation.ladder[0].schedule: unknown schedule 'nope'",
        ),
        (
            "{ladder: [{after: 1h, notify: team, schedule: nights}]}",
            "escalation.ladder[0].schedule: only for notify: schedule",
        ),
        (
            "{ladder: [{after: 1h, notify: schedule}]}",
            "escalation.ladder[0].notify: schedule, but route 'vip' has no schedule and its "
            "team 'vip' none (routes[0] uses it): name one (schedule: <id>)",
        ),
        (
            "{ladder: [{after: 1h, notify: fallback}]}",
            "escalation.ladder[0].notify: fallback, but route 'vip' has no fallback "
            "(routes[0] uses it)",
        ),
        ("{reopen_csat: 6}", "escalation.reopen_csat: Input should be less than or equal to 5"),
        (
            "{ladder: [" + ", ".join(f"{{after: {n}m}}" for n in range(1, 12)) + "]}",
            "escalation.ladder: List should have at most 10 items after validation, not 11",
        ),
        (
            "{deadline_lead: soon}",
            "escalation.deadline_lead: Value error, invalid duration 'soon': use e.g. '90s', "
            "'15m', '72h', '1d12h'",
        ),
    ],
)
def test_ladder_errors_name_their_path(escalation, expected):
    assert expected in errors_of(POLICY + f"\nescalation: {escalation}\n")


def test_a_route_s_own_ladder_is_checked_against_that_route():
    text = POLICY.replace(
        "    team: vip\n    min_authority: 3\n",
        "    team: vip\n    min_authority: 3\n"
        "    escalation: {ladder: [{after: 30m, notify: fallback}]}\n",
    )
    assert errors_of(text) == [
        "routes[0].escalation.ladder[0].notify: fallback, but route 'vip' has no fallback"
    ]


def test_an_ack_timeout_without_a_ladder_is_a_warning():
    loaded = parse_policy(POLICY + "\nescalation: {ack_timeout: 15m}\n")
    assert "escalation.ack_timeout: no ladder to climb, so it does nothing" in loaded.warnings


SMALL = """
version: 1
owners:
  - {id: chen, name: Chen, teams: [eng], authority: 2}
  - {id: noor, name: Noor, teams: [night], authority: 2}
teams:
  - {id: eng, name: Engineers}
  - {id: night, name: Night desk, schedule: nights}
schedules:
  - id: nights
    layers: [{name: weekly, members: [noor], every: 1w, start: "2026-11-02T00:00:00-05:00"}]
escalation:
  ack_timeout: 15m
  ladder:
    - {after: 30m, notify: team}
    - {after: 1h, notify: fallback, repeat: 2, every: 10m}
routes:
  - name: night
    match: {urgency: [critical]}
    team: night
    fallback: {owner: chen}
    escalation:
      ladder: [{after: 20m, notify: schedule}]
  - name: default
    team: eng
    fallback: {team: night}
    escalation: {repeat_threshold: 2}
"""


def test_routes_hand_over_the_ladder_with_ids_resolved_and_inherit_what_they_do_not_name():
    settings = RoutingEngine(parse_policy(SMALL)).settings
    default = settings["default"]
    assert default.repeat_threshold == 2  # named on the route
    assert default.ack_timeout_seconds == 900  # inherited from the top level
    assert default.ladder == [
        LadderStep(after_seconds=1800, notify="team"),
        LadderStep(
            after_seconds=3600, notify="fallback_team", to="night", repeat=2, every_seconds=600
        ),
    ]
    assert default.reopen_window_seconds == 7 * 86400
    assert default.followup_after_seconds == 2 * 86400
    assert default.deadline_lead_seconds == 3600
    # A schedule step without an id pages the route's team's schedule.
    assert settings["night"].ladder == [
        LadderStep(after_seconds=1200, notify="schedule", to="nights")
    ]
    assert settings["night"].ack_timeout_seconds == 900


def test_a_policy_edit_leaves_an_escalation_in_flight_on_its_snapshot():
    old = parse_policy(POLICY + LADDER)
    new = parse_policy(
        POLICY + "\nescalation: {ladder: [{after: 5m, notify: schedule, schedule: nights}]}\n"
    )
    contact = event(event_id="x1", urgency="critical")
    routing = RoutingEngine(old).decide(contact, MORNING, None, Loads()).routing
    state = decide_contact(None, contact, routing, MORNING, PolicyRoster(old)).state
    assert state.status == "open"
    # The policy changes; the escalation keeps its ladder: level 2 at the 15m ack timeout.
    roster = PolicyRoster(new)
    assert next_due(state) == MORNING + timedelta(minutes=15)
    tick = tick_for(state)
    stepped = decide_tick(state, tick, tick.due, roster)
    assert stepped.pages[0].reason == (
        "ladder.ack_timeout: level 1 not acknowledged within 15m; paging team eng"
    )
    # A new escalation under the new policy takes the new ladder.
    other = event(event_id="y1", urgency="critical", issue_key="ticket-99")
    routing = RoutingEngine(new).decide(other, MORNING, None, Loads()).routing
    fresh = decide_contact(None, other, routing, MORNING, roster).state
    assert next_due(fresh) == MORNING + timedelta(minutes=5)
    page = decide_tick(fresh, tick_for(fresh), next_due(fresh), roster).pages[0]
    assert page.reason.endswith("paging on call for nights: noor")
