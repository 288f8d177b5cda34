"""The ladder under a fake clock: every step's timing, repeats, ack timeouts, DST, ticks."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.unit.escalator_world import FakeRoster, Issue
from tests.unit.factories import T0, hours, minutes, routed

from escalation.schemas import EscalationSettings, LadderStep, Tick
from escalation.services.escalator.timers import decide_tick, next_due, tick_for

LADDER = [
    LadderStep(after_seconds=1800, notify="owner"),
    LadderStep(after_seconds=3600, notify="team"),
    LadderStep(after_seconds=7200, notify="schedule", to="engineers", repeat=2, every_seconds=600),
    LadderStep(after_seconds=14400, notify="fallback_owner", to="grace"),
]
ROTA = {"engineers": [(T0 - hours(1), "dana"), (T0 + minutes(125), "chen")]}


def settings(**fields) -> EscalationSettings:
    return EscalationSettings(ladder=LADDER, **fields)


def critical(event_id="vip-1", at=T0, escalation=None, **fields):
    return routed(event_id, at, urgency="critical", escalation=escalation or settings(), **fields)


def opened(escalation=None, roster=None) -> Issue:
    issue = Issue(roster=roster or FakeRoster(rota=ROTA))
    assert issue.contact(critical(escalation=escalation)).outcome == "opened"
    return issue


def test_every_step_fires_at_its_time_and_pages_whom_it_names():
    issue = opened()
    issue.run_until(T0 + hours(10))
    assert [(t - T0, level, loop) for t, level, _, loop in issue.triggers()] == [
        (minutes(0), 1, 0),
        (minutes(30), 2, 0),
        (minutes(60), 3, 0),
        (minutes(120), 4, 0),
        (minutes(130), 4, 1),  # repeats every 10m, twice
        (minutes(140), 4, 2),
        (minutes(240), 5, 0),
    ]
    reasons = [p.reason for p in issue.pages]
    assert reasons[0] == "urgency.critical"
    assert reasons[1] == "ladder.step: level 2 at 30m, not acknowledged; paging owner chen"
    assert reasons[2].endswith("paging team service-engineers")
    # Who is on call is asked when the step fires: dana at 2h, chen after the 2h05 handoff.
    assert reasons[3].endswith("paging on call for engineers: dana")
    assert reasons[4] == (
        "ladder.repeat: level 4, repeat 1 of 2; paging on call for engineers: chen"
    )
    assert reasons[6].endswith("paging fallback owner grace")
    assert "grace-phone" in issue.pages[6].targets and "ops-webhook" in issue.pages[6].targets
    assert issue.pages[2].targets == ["ops-webhook", "service-engineers-hook"]
    stepped = [e for e in issue.events if e.type == "stepped"]
    assert [e.level for e in stepped] == [2, 3, 4, 5]
    assert issue.state.level == 5 and next_due(issue.state) is None


def test_page_ids_differ_per_level_and_repeat_and_keep_the_old_id_for_level_one():
    from escalation.schemas import page_id_for

    issue = opened()
    issue.run_until(T0 + hours(5))
    ids = [p.page_id for p in issue.pages]
    assert len(set(ids)) == len(ids) == 7
    assert ids[0] == page_id_for(issue.state.escalation_id, 1, "trigger")


@pytest.mark.parametrize(
    ("ack_timeout", "expected"),
    [
        # ack timeout 20m: each level moves on 20m after it paged unless `after` is sooner;
        # a level that moves early takes the rest of the ladder with it.
        (20, [(0, 1, 0), (20, 2, 0), (40, 3, 0), (60, 4, 0), (70, 4, 1), (80, 5, 0)]),
        # longer than every gap: the `after`s decide alone.
        (600, [(0, 1, 0), (30, 2, 0), (60, 3, 0), (120, 4, 0), (130, 4, 1), (140, 4, 2)]),
    ],
)
def test_ack_timeout_moves_to_the_next_level(ack_timeout, expected):
    issue = opened(settings(ack_timeout_seconds=ack_timeout * 60))
    issue.run_until(T0 + minutes(expected[-1][0]) + minutes(1))
    got = [(int((t - T0).total_seconds() // 60), lv, lp) for t, lv, _, lp in issue.triggers()]
    assert got == expected
    reasons = [p.reason for p in issue.pages]
    if ack_timeout == 20:
        assert reasons[1].startswith("ladder.ack_timeout: level 1 not acknowledged within 20m")


def test_an_ack_stops_the_ladder():
    issue = opened()
    issue.run_until(T0 + minutes(45))
    assert issue.command("ack").outcome == "acked"
    assert next_due(issue.state) is None
    issue.run_until(T0 + hours(10))
    assert [lv for _, lv, _, _ in issue.triggers()] == [1, 2]
    assert issue.pages[-1].action == "acknowledge"


def test_a_late_scan_fires_every_due_level_once_and_only_the_latest_repeat():
    issue = opened()
    # The escalator was down from 0:10 to 2:25: one tick on recovery catches up.
    tick = tick_for(issue.state)
    decision = decide_tick(issue.state, tick, T0 + minutes(145), issue.roster)
    assert decision.due == T0 + minutes(30)  # lateness = now - due, for the histogram
    levels = [(p.level, p.reason.split(":")[0]) for p in decision.pages]
    assert levels == [(2, "ladder.step"), (3, "ladder.step"), (4, "ladder.repeat")]
    assert "repeat 2 of 2" in decision.pages[-1].reason
    assert [e.type for e in decision.escalations].count("stepped") == 3
    assert [e.type for e in decision.escalations].count("paged") == 3
    assert next_due(decision.state) == T0 + minutes(240)


def test_a_resent_tick_is_stale_and_a_reprocessed_one_yields_the_same_ids():
    issue = opened()
    tick = tick_for(issue.state)
    before = issue.state
    first = decide_tick(before, tick, T0 + minutes(31), issue.roster)
    again = decide_tick(before, tick, T0 + minutes(31), issue.roster)  # crash, replay
    assert [p.page_id for p in first.pages] == [p.page_id for p in again.pages]
    assert [e.cause_id for e in first.escalations] == ["step:0.2.0", "step:0.2.0"]
    resent = decide_tick(first.state, tick, T0 + minutes(32), issue.roster)
    assert resent.outcome == "stale" and resent.pages == [] and resent.escalations == []
    assert resent.state == first.state


def test_a_tick_before_anything_is_due_fires_nothing():
    issue = opened()
    early = Tick(customer_id="C-1042", issue_id=issue.state.issue_id, version=1, due=T0)
    assert issue.state.version == 1
    decision = decide_tick(issue.state, early, T0 + minutes(29), issue.roster)
    assert decision.outcome == "early" and decision.pages == []
    assert decide_tick(None, early, T0, None).outcome == "unknown"


def test_a_tick_made_before_an_ack_does_not_fire_after_it():
    issue = opened()
    tick = tick_for(issue.state)
    issue.command("ack", at=T0 + minutes(10))
    late = decide_tick(issue.state, tick, T0 + minutes(31), issue.roster)
    assert late.outcome == "stale" and late.pages == []


def test_one_day_is_twenty_four_hours_across_a_dst_change():
    new_york = ZoneInfo("America/New_York")
    opened_at = datetime(2026, 3, 7, 12, 0, tzinfo=new_york)  # EST; clocks spring forward 3/8
    escalation = EscalationSettings(ladder=[LadderStep(after_seconds=86400, notify="team")])
    issue = Issue(now=opened_at)
    issue.contact(critical(at=opened_at, escalation=escalation), at=opened_at)
    due = next_due(issue.state)
    assert due - opened_at.astimezone(UTC) == timedelta(hours=24)
    assert due.astimezone(new_york).hour == 13  # 13:00 EDT: elapsed time, not wall clock
    issue.run_until(datetime(2026, 3, 8, 12, 30, tzinfo=new_york))
    assert [lv for _, lv, _, _ in issue.triggers()] == [1]
    issue.run_until(datetime(2026, 3, 8, 13, 0, tzinfo=new_york))
    assert [lv for _, lv, _, _ in issue.triggers()] == [1, 2]


def test_without_a_ladder_nothing_is_ever_due_while_open():
    issue = opened(EscalationSettings())
    assert next_due(issue.state) is None
    assert tick_for(issue.state) is None


def test_a_schedule_step_with_nobody_on_call_says_so_and_still_pages_the_issue_targets():
    issue = opened(roster=FakeRoster(rota={}))
    issue.run_until(T0 + minutes(120))
    last = issue.pages[-1]
    assert last.reason.endswith("paging on call for engineers: nobody")
    assert last.targets == ["ops-webhook"]
    assert [e.notified for e in issue.events if e.type == "paged"][-1] is None
