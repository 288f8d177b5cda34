"""Maintenance windows: weekly and cron recurrences in a zone's wall clock, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.policy import PolicyError, parse_policy
from escalation.policy.maintenance import maintenance_silence, occurrence
from escalation.policy.model import Maintenance
from escalation.policy.silencing import PolicySilences
from tests.unit.policy.fixtures import POLICY

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def window(**fields) -> Maintenance:
    return Maintenance(id="w", matchers=["product=thermo"], **fields)


def test_a_weekly_overnight_window_ends_the_next_morning() -> None:
    saturday = window(days=["sat"], start="22:00", end="02:00")
    assert occurrence(saturday, at("2026-11-28T21:59:59-05:00"), NY) is None
    start, end = occurrence(saturday, at("2026-11-29T01:00:00-05:00"), NY)
    assert (start, end) == (at("2026-11-28T22:00:00-05:00"), at("2026-11-29T02:00:00-05:00"))
    assert occurrence(saturday, at("2026-11-29T02:00:00-05:00"), NY) is None
    assert occurrence(saturday, at("2026-11-27T23:00:00-05:00"), NY) is None  # a Friday


def test_a_window_in_another_zone_follows_that_zone() -> None:
    berlin = window(days=["sun"], start="03:00", end="05:00", timezone="Europe/Berlin")
    assert occurrence(berlin, at("2026-11-29T02:30:00+00:00"), NY) is not None  # 03:30 CET
    assert occurrence(berlin, at("2026-11-29T04:30:00+00:00"), NY) is None  # 05:30 CET


def test_cron_windows_fire_as_cron_says() -> None:
    mondays = window(cron="0 6 * * mon", duration="2h")
    assert occurrence(mondays, at("2026-12-07T07:00:00-05:00"), NY) is not None
    assert occurrence(mondays, at("2026-12-08T07:00:00-05:00"), NY) is None
    # Day of month and weekday both set: either fires, as in every cron.
    either = window(cron="0 6 1 * mon", duration="2h")
    assert occurrence(either, at("2026-12-01T07:00:00-05:00"), NY) is not None  # a Tuesday
    assert occurrence(either, at("2026-12-14T07:00:00-05:00"), NY) is not None  # a Monday
    assert occurrence(either, at("2026-12-15T07:00:00-05:00"), NY) is None
    quarter_hours = window(cron="*/15 * * * *", duration="5m")
    assert occurrence(quarter_hours, at("2026-11-25T10:31:00-05:00"), NY) is not None
    assert occurrence(quarter_hours, at("2026-11-25T10:36:00-05:00"), NY) is None


def test_spring_forward_a_start_in_the_skipped_hour_starts_when_the_clock_jumps() -> None:
    nightly = window(start="02:30", end="04:00")
    # 2026-03-08: New York's clocks jump from 02:00 EST to 03:00 EDT.
    start, end = occurrence(nightly, at("2026-03-08T03:10:00-04:00"), NY)
    assert start == at("2026-03-08T03:00:00-04:00")
    assert end == at("2026-03-08T04:00:00-04:00")
    assert occurrence(nightly, at("2026-03-08T01:59:00-05:00"), NY) is None


def test_fall_back_wall_clock_ends_hold_every_repeated_time_and_durations_do_not() -> None:
    # 2026-11-01: 01:00-02:00 happens twice in New York (EDT, then EST).
    wall = window(start="01:00", end="01:30")
    first = at("2026-11-01T01:15:00-04:00")
    second = at("2026-11-01T01:15:00-05:00")
    assert occurrence(wall, first, NY) is not None
    assert occurrence(wall, second, NY) is not None  # the end is 01:30's second showing
    assert occurrence(wall, at("2026-11-01T01:45:00-05:00"), NY) is None
    elapsed = window(start="01:00", duration="30m")
    assert occurrence(elapsed, first, NY) is not None
    assert occurrence(elapsed, second, NY) is None  # 30 minutes from 01:00 EDT ended long ago


def test_a_weekly_window_keeps_its_wall_clock_across_the_change() -> None:
    sunday = window(days=["sun"], start="01:00", end="03:00", timezone="Europe/Berlin")
    before = occurrence(sunday, at("2026-03-22T01:30:00+01:00"), NY)
    after = occurrence(sunday, at("2026-03-29T01:30:00+01:00"), NY)  # the night of the change
    assert before is not None and before[0].astimezone(BERLIN).hour == 1
    assert after is not None and after[0].astimezone(BERLIN).hour == 1
    assert after[1] - after[0] == timedelta(hours=1)  # 01:00-03:00 lost an hour that night


def _starts_between(low: datetime, high: datetime, hour: int) -> list[datetime]:
    """Brute force, minute by minute: instants in (low, high] where Berlin's clock first
    shows ``hour``:00, or jumps past it (the skipped hour)."""
    found = []
    moment = low + timedelta(minutes=1)
    while moment <= high:
        local = moment.astimezone(BERLIN)
        before = (moment - timedelta(minutes=1)).astimezone(BERLIN)
        shows = (local.hour, local.minute) == (hour, 0)
        repeated = (moment - timedelta(hours=1)).astimezone(BERLIN).replace(tzinfo=None) == (
            local.replace(tzinfo=None)
        )
        jumped = before.date() == local.date() and before.hour < hour < local.hour
        if (shows and not repeated) or jumped:
            found.append(moment)
        moment += timedelta(minutes=1)
    return found


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=366 * 24 * 60),
    start=st.integers(min_value=0, max_value=23),
    hours=st.integers(min_value=1, max_value=30),
)
def test_a_daily_window_holds_exactly_when_a_start_lies_within_its_duration(
    minutes: int, start: int, hours: int
) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    daily = window(start=f"{start:02d}:00", duration=f"{hours}h", timezone="Europe/Berlin")
    starts = _starts_between(moment - timedelta(hours=hours), moment, start)
    found = occurrence(daily, moment, NY)
    if not starts:
        assert found is None
        return
    assert found == (starts[-1], starts[-1] + timedelta(hours=hours))


def test_the_policy_turns_windows_and_file_silences_into_silences() -> None:
    text = (
        POLICY
        + """
silences:
  - {id: recall-noise, matchers: ['product=thermo-2'], ends_at: "2027-01-01T00:00:00Z",
     mode: drop, comment: known recall}
maintenance:
  - id: firmware
    matchers: ['category=~"hvac(\\\\..*)?"', {name: customer.tier, op: "!=", value: vip}]
    days: [sat]
    start: "22:00"
    end: "02:00"
"""
    )
    loaded = parse_policy(text, now=at("2026-11-25T12:00:00+00:00"))
    policy = PolicySilences(loaded)
    quiet_day = policy.active(at("2026-11-25T12:00:00+00:00"))
    assert [s.id for s in quiet_day] == ["recall-noise"]
    saturday_night = policy.active(at("2026-11-28T23:00:00-05:00"))
    assert [s.id for s in saturday_night] == ["recall-noise", "maintenance.firmware"]
    firmware = saturday_night[1]
    assert firmware.ends_at == at("2026-11-29T02:00:00-05:00")
    assert firmware.matchers[0].matches({"category": "hvac.repair"})
    assert (
        maintenance_silence(loaded.policy.maintenance[0], at("2026-11-29T03:00:00-05:00"), NY)
        is None
    )


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (
            "{id: w, matchers: ['product=x'], cron: '0 25 * * *', duration: 1h}",
            "maintenance[0].cron",
        ),
        ("{id: w, matchers: ['product=x'], cron: '0 2 * *', duration: 1h}", "five fields"),
        (
            "{id: w, matchers: ['product=x'], start: '02:00', cron: '0 2 * * *', duration: 1h}",
            "either start (with days) or cron",
        ),
        ("{id: w, matchers: ['product=x'], start: '02:00'}", "either end or duration"),
        (
            "{id: w, matchers: ['product=x'], start: '02:00', end: '03:00', timezone: Mars/Base}",
            "maintenance[0].timezone: unknown time zone",
        ),
        (
            "{id: w, matchers: ['colour=red'], start: '02:00', end: '03:00'}",
            "maintenance[0].matchers[0]",
        ),
        ("{id: w, matchers: [], start: '02:00', end: '03:00'}", "maintenance[0].matchers"),
    ],
)
def test_bad_windows_are_policy_errors_with_their_path(entry: str, error: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(POLICY + f"maintenance:\n  - {entry}\n")
    assert any(error in line for line in caught.value.errors), caught.value.errors


def test_a_window_and_a_silence_may_not_share_an_id() -> None:
    text = (
        POLICY
        + """
silences: [{id: same, matchers: ['product=x'], ends_at: "2027-01-01T00:00:00Z"}]
maintenance: [{id: same, matchers: ['product=x'], start: "01:00", end: "02:00"}]
"""
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert "maintenance[0]: id 'same' is already used by silences[0]" in caught.value.errors


def test_an_ended_file_silence_is_a_warning() -> None:
    text = (
        POLICY + "silences: [{id: old, matchers: ['product=x'], ends_at: '2026-01-01T00:00:00Z'}]\n"
    )
    loaded = parse_policy(text, now=at("2026-11-25T12:00:00+00:00"))
    assert any("silences[0]: ended 2026-01-01" in w for w in loaded.warnings)
