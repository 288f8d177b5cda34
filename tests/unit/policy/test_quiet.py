"""Quiet hours: low-urgency pages wait for their responder's working hours, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.policy import PolicyError, parse_policy
from escalation.policy.quiet import QuietRules

NOW = datetime.fromisoformat("2026-11-25T12:00:00+00:00")

POLICY = """
version: 1
timezone: America/New_York
holidays: {dates: ["2026-12-25"]}
owners:
  - {id: ana, name: Ana, teams: [front], authority: 1,
     hours: [{start: "08:00", end: "16:00"}]}
  - {id: nico, name: Nico, teams: [front], authority: 1,
     hours: [{days: [mon, tue, wed, thu, fri], start: "22:00", end: "24:00"},
             {days: [tue, wed, thu, fri, sat], start: "00:00", end: "06:00"}]}
  - {id: ike, name: Ike, teams: [front], authority: 1, timezone: Europe/Berlin,
     hours: [{days: [sun], start: "02:30", end: "05:00"},
             {days: [sun], start: "01:00", end: "01:30"}]}
  - {id: desk, name: Desk, teams: [front], authority: 1}
  - {id: chen, name: Chen, teams: [eng], authority: 2, hours: [{start: "09:00", end: "17:00"}]}
  - {id: dana, name: Dana, teams: [eng], authority: 2, hours: [{start: "09:00", end: "17:00"}]}
teams:
  - {id: front, name: Front}
  - {id: eng, name: Engineers, schedule: nights}
schedules:
  - id: nights
    layers:
      - {name: weekly, members: [chen, dana], every: 1w, start: "2026-11-02T08:00:00-05:00",
         hours: [{days: [mon, tue, wed, thu, fri], start: "18:00", end: "24:00"}]}
routes:
  - {name: default, team: front}
quiet_hours:
  below: high
  customer: {}
"""


def rules(text: str = POLICY) -> QuietRules:
    return QuietRules(parse_policy(text, now=NOW))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_low_page_at_night_waits_for_the_morning_and_high_never_waits() -> None:
    quiet = rules()
    night = at("2026-11-25T03:00:00-05:00")
    assert quiet.release_at("low", {}, ["ana"], night) == at("2026-11-25T08:00:00-05:00")
    assert quiet.release_at("normal", {}, ["ana"], night) == at("2026-11-25T08:00:00-05:00")
    assert quiet.release_at(None, {}, ["ana"], night) == at("2026-11-25T08:00:00-05:00")
    assert quiet.release_at("high", {}, ["ana"], night) is None
    assert quiet.release_at("critical", {}, ["ana"], night) is None
    assert quiet.release_at("low", {}, ["ana"], at("2026-11-25T09:00:00-05:00")) is None


def test_weekends_and_holidays_wait_for_the_next_working_day() -> None:
    quiet = rules()
    friday_evening = at("2026-11-27T18:00:00-05:00")
    assert quiet.release_at("low", {}, ["ana"], friday_evening) == at("2026-11-30T08:00:00-05:00")
    christmas = at("2026-12-25T10:00:00-05:00")
    assert quiet.release_at("low", {}, ["ana"], christmas) == at("2026-12-28T08:00:00-05:00")


def test_a_night_shift_across_midnight() -> None:
    quiet = rules()
    # Monday 22:00 to Tuesday 06:00, written as two entries.
    assert quiet.release_at("low", {}, ["nico"], at("2026-11-23T23:30:00-05:00")) is None
    assert quiet.release_at("low", {}, ["nico"], at("2026-11-24T00:00:00-05:00")) is None
    assert quiet.release_at("low", {}, ["nico"], at("2026-11-24T05:59:00-05:00")) is None
    assert quiet.release_at("low", {}, ["nico"], at("2026-11-24T06:00:00-05:00")) == at(
        "2026-11-24T22:00:00-05:00"
    )
    # Saturday 06:00: no shift until Monday 22:00.
    assert quiet.release_at("low", {}, ["nico"], at("2026-11-28T06:00:00-05:00")) == at(
        "2026-11-30T22:00:00-05:00"
    )


def test_spring_forward_a_shift_starting_in_the_skipped_hour_starts_at_the_jump() -> None:
    quiet = rules()
    # 2026-03-29: Berlin's clocks jump from 02:00 CET to 03:00 CEST; Ike starts at 02:30.
    release = quiet.release_at("low", {}, ["ike"], at("2026-03-29T00:10:00+01:00"))
    assert release == at("2026-03-29T01:00:00+01:00")  # the 01:00 entry comes first
    release = quiet.release_at("low", {}, ["ike"], at("2026-03-29T01:40:00+01:00"))
    assert release == at("2026-03-29T03:00:00+02:00")


def test_fall_back_a_shift_in_the_repeated_hour_starts_at_its_first_showing() -> None:
    quiet = rules()
    # 2026-10-25: 02:00-03:00 happens twice in Berlin (CEST, then CET).
    release = quiet.release_at("low", {}, ["ike"], at("2026-10-25T02:10:00+02:00"))
    assert release == at("2026-10-25T02:30:00+02:00")
    # Within the second showing Ike is on shift again: no wait.
    assert quiet.release_at("low", {}, ["ike"], at("2026-10-25T02:45:00+01:00")) is None


def test_on_call_counts_as_working_and_the_first_responder_to_work_decides() -> None:
    quiet = rules()
    # The week from Monday 2026-11-23 08:00 is dana's; the layer is on call 18:00-24:00.
    evening = at("2026-11-25T19:00:00-05:00")
    assert quiet.release_at("low", {}, ["dana"], evening) is None
    assert quiet.release_at("low", {}, ["chen"], evening) == at("2026-11-26T09:00:00-05:00")
    assert quiet.release_at("low", {}, ["chen", "dana"], evening) is None
    # Between her shift and her evening on call, dana's page waits for the on-call start.
    gap = at("2026-11-25T17:30:00-05:00")
    assert quiet.release_at("low", {}, ["dana"], gap) == at("2026-11-25T18:00:00-05:00")
    assert quiet.release_at("low", {}, ["chen"], gap) == at("2026-11-26T09:00:00-05:00")


def test_people_without_hours_always_work_unless_quiet_hours_give_some() -> None:
    assert rules().release_at("low", {}, ["desk"], at("2026-11-25T03:00:00-05:00")) is None
    with_hours = POLICY.replace(
        "  below: high\n", '  below: high\n  hours: [{start: "07:00", end: "19:00"}]\n'
    )
    assert rules(with_hours).release_at("low", {}, ["desk"], at("2026-11-25T03:00:00-05:00")) == at(
        "2026-11-25T07:00:00-05:00"
    )


def test_below_normal_only_low_waits_and_matchers_scope_quiet_hours() -> None:
    only_low = rules(POLICY.replace("below: high", "below: normal"))
    night = at("2026-11-25T03:00:00-05:00")
    assert only_low.release_at("normal", {}, ["ana"], night) is None
    assert only_low.release_at("low", {}, ["ana"], night) is not None
    scoped = rules(POLICY.replace("below: high", "below: high\n  matchers: ['customer.tier!=vip']"))
    assert scoped.release_at("low", {"customer.tier": "vip"}, ["ana"], night) is None
    assert scoped.release_at("low", {"customer.tier": "standard"}, ["ana"], night) is not None


def test_customer_follow_ups_wait_for_the_customers_own_hours() -> None:
    quiet = rules()
    evening_ny = at("2026-11-25T21:00:00-05:00")  # 03:00 in Berlin, 11:00 in Tokyo
    assert quiet.customer_release_at("Europe/Berlin", evening_ny) == at("2026-11-26T09:00:00+01:00")
    assert quiet.customer_release_at("Asia/Tokyo", evening_ny) is None
    assert quiet.customer_release_at(None, evening_ny) == at("2026-11-26T09:00:00-05:00")


def test_without_quiet_hours_nothing_waits() -> None:
    quiet = rules(POLICY.split("quiet_hours:")[0])
    assert quiet.release_at("low", {}, ["ana"], at("2026-11-25T03:00:00-05:00")) is None
    assert quiet.customer_release_at("Europe/Berlin", at("2026-11-25T21:00:00-05:00")) is None


def test_below_critical_is_refused_high_and_critical_never_wait() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(POLICY.replace("below: high", "below: critical"), now=NOW)
    assert any(line.startswith("quiet_hours.below:") for line in caught.value.errors)


@settings(max_examples=40, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=366 * 24 * 60),
    person=st.sampled_from(["ana", "nico", "ike", "dana"]),
)
def test_a_page_waits_exactly_until_the_first_working_moment(minutes: int, person: str) -> None:
    quiet = rules()
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    release = quiet.release_at("low", {}, [person], moment)
    if release is None:
        assert quiet.working(person, moment)
        return
    assert release > moment and quiet.working(person, release)
    # Nobody works at any quarter hour in between (shifts here start on quarter hours).
    probe = moment + timedelta(minutes=15 - moment.minute % 15)
    while probe < release:
        assert not quiet.working(person, probe), probe
        probe += timedelta(minutes=15)
