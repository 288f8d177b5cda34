from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from escalation.policy.ical import load_ical_overrides
from escalation.policy.model import DAYS, Override, Schedule
from escalation.policy.schedule import (
    coverage_gaps,
    on_call,
)

NY = ZoneInfo("America/New_York")
KNOWN = {"ana", "bo", "cy", "dee"}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NY)


def schedule(*layers: dict, **fields: object) -> Schedule:
    return Schedule.model_validate({"id": "s", "layers": list(layers)} | fields)


def override(owner: str, start: datetime, end: datetime) -> Override:
    return Override.model_validate({"owner": owner, "start": start, "end": end})


WEEKLY = schedule({"name": "w", "members": ["ana", "bo", "cy"], "start": "2026-11-02T09:00Z"})
DAILY = schedule(
    {"name": "d", "members": ["ana", "bo"], "every": "1d", "start": "2026-11-02T00:00Z"}
)
HALF_DAYS_NY = schedule(
    {"name": "h", "members": ["ana", "bo"], "every": "12h", "start": "2026-10-31T08:00-04:00"},
    timezone="America/New_York",
)
# Daily 09:00 New York handoffs, anchored before each of 2026's DST changes.
SPRING = schedule(
    {"name": "d", "members": ["ana", "bo", "cy"], "every": "1d", "start": "2026-03-01T09:00-05:00"},
    timezone="America/New_York",
)
AUTUMN = schedule(
    {"name": "d", "members": ["ana", "bo", "cy"], "every": "1d", "start": "2026-10-25T09:00-04:00"},
    timezone="America/New_York",
)


@pytest.mark.parametrize(
    ("sched", "moment", "expected"),
    [
        pytest.param(WEEKLY, utc(2026, 11, 2, 9), "ana", id="weekly-start"),
        pytest.param(WEEKLY, utc(2026, 11, 9, 8, 59), "ana", id="weekly-before-handoff"),
        pytest.param(WEEKLY, utc(2026, 11, 9, 9), "bo", id="weekly-handoff"),
        pytest.param(WEEKLY, utc(2026, 11, 16, 10), "cy", id="weekly-third"),
        pytest.param(WEEKLY, utc(2026, 11, 23, 10), "ana", id="weekly-wraps"),
        pytest.param(WEEKLY, utc(2026, 11, 1, 10), "cy", id="week-before-start"),
        pytest.param(WEEKLY, utc(2026, 10, 20, 10), "bo", id="two-weeks-before-start"),
        pytest.param(DAILY, utc(2026, 11, 2, 23, 59), "ana", id="daily-first"),
        pytest.param(DAILY, utc(2026, 11, 3), "bo", id="daily-second"),
        pytest.param(DAILY, utc(2026, 11, 4, 12), "ana", id="daily-wraps"),
        pytest.param(DAILY, utc(2026, 11, 1, 23, 59), "bo", id="day-before-start"),
        # 12h is not whole days: handoffs stay at 00:00/12:00 UTC, so 07:00 local after DST.
        pytest.param(HALF_DAYS_NY, utc(2026, 11, 1, 11, 59), "bo", id="12h-before-handoff"),
        pytest.param(HALF_DAYS_NY, utc(2026, 11, 1, 12), "ana", id="12h-absolute-handoff"),
        # Spring forward on 2026-03-08: 09:00 EDT is 13:00 UTC, an hour earlier than before.
        pytest.param(SPRING, utc(2026, 3, 7, 13, 59), "cy", id="spring-eve-before-9est"),
        pytest.param(SPRING, utc(2026, 3, 7, 14), "ana", id="spring-eve-9est"),
        pytest.param(SPRING, utc(2026, 3, 8, 12, 59), "ana", id="spring-0859edt"),
        pytest.param(SPRING, utc(2026, 3, 8, 13), "bo", id="spring-0900edt"),
        pytest.param(SPRING, utc(2026, 3, 8, 13, 30), "bo", id="spring-0930edt"),
        pytest.param(SPRING, utc(2026, 3, 9, 13), "cy", id="spring-next-day-0900edt"),
        # Fall back on 2026-11-01: 09:00 EST is 14:00 UTC, an hour later than before.
        pytest.param(AUTUMN, utc(2026, 10, 31, 12, 59), "cy", id="autumn-eve-before-9edt"),
        pytest.param(AUTUMN, utc(2026, 10, 31, 13), "ana", id="autumn-eve-9edt"),
        pytest.param(AUTUMN, utc(2026, 11, 1, 13, 30), "ana", id="autumn-0830est"),
        pytest.param(AUTUMN, utc(2026, 11, 1, 14), "bo", id="autumn-0900est"),
        pytest.param(AUTUMN, utc(2026, 11, 2, 14), "cy", id="autumn-next-day-0900est"),
    ],
)
def test_rotation(sched, moment, expected):
    assert on_call(sched, moment, UTC) == [expected]


BASE = {"name": "base", "members": ["ana", "bo"], "start": "2026-11-02T00:00Z"}
NIGHTS = {
    "name": "nights",
    "members": ["cy", "dee"],
    "every": "1d",
    "start": "2026-11-02T00:00Z",
    "hours": [{"days": list(DAYS), "start": "18:00", "end": "24:00"}],
}
LAYERED = schedule(BASE, NIGHTS)
LAYERED_REVERSED = schedule(NIGHTS, BASE)
BERLIN_OFFICE = schedule(
    {"name": "office", "members": ["ana"], "start": "2026-11-02T00:00Z", "hours": [{}]},
    timezone="Europe/Berlin",
)


@pytest.mark.parametrize(
    ("sched", "moment", "default_zone", "expected"),
    [
        pytest.param(LAYERED, utc(2026, 11, 3, 12), UTC, ["ana"], id="nights-out-of-hours"),
        pytest.param(LAYERED, utc(2026, 11, 3, 19), UTC, ["dee"], id="nights-layer-wins"),
        pytest.param(LAYERED, utc(2026, 11, 4, 19), UTC, ["cy"], id="nights-rotates"),
        pytest.param(LAYERED, utc(2026, 11, 10, 12), UTC, ["bo"], id="base-second-week"),
        # In New York's clock 19:00 UTC is 14:00: the night layer is off.
        pytest.param(LAYERED, utc(2026, 11, 3, 19), NY, ["ana"], id="hours-in-default-zone"),
        pytest.param(LAYERED_REVERSED, utc(2026, 11, 3, 19), UTC, ["ana"], id="last-layer-wins"),
        # 08:30 UTC is 09:30 in Berlin (the schedule's zone beats the default).
        pytest.param(BERLIN_OFFICE, utc(2026, 11, 25, 8, 30), NY, ["ana"], id="schedule-zone-in"),
        pytest.param(BERLIN_OFFICE, utc(2026, 11, 25, 16, 30), NY, [], id="schedule-zone-out"),
        pytest.param(BERLIN_OFFICE, utc(2026, 11, 28, 10), NY, [], id="weekend-nobody"),
        pytest.param(schedule(), utc(2026, 11, 3), UTC, [], id="no-layers"),
    ],
)
def test_layers(sched, moment, default_zone, expected):
    assert on_call(sched, moment, default_zone) == expected


WITH_OVERRIDE = schedule(
    BASE, overrides=[{"owner": "dee", "start": "2026-11-03T10:00Z", "end": "2026-11-03T12:00Z"}]
)
CY_11_TO_13 = override("cy", utc(2026, 11, 3, 11), utc(2026, 11, 3, 13))
DEE_AGAIN = override("dee", utc(2026, 11, 3, 9), utc(2026, 11, 3, 11))


@pytest.mark.parametrize(
    ("moment", "extra", "expected"),
    [
        pytest.param(utc(2026, 11, 3, 9, 59), (), ["ana"], id="before-override"),
        pytest.param(utc(2026, 11, 3, 10), (), ["dee"], id="override-start-inclusive"),
        pytest.param(utc(2026, 11, 3, 12), (), ["ana"], id="override-end-exclusive"),
        pytest.param(utc(2026, 11, 3, 11, 30), (CY_11_TO_13,), ["dee", "cy"], id="both-in-order"),
        pytest.param(utc(2026, 11, 3, 12, 30), (CY_11_TO_13,), ["cy"], id="extra-only"),
        pytest.param(utc(2026, 11, 3, 10, 30), (DEE_AGAIN,), ["dee"], id="deduplicated"),
        pytest.param(utc(2026, 11, 3, 9, 30), (DEE_AGAIN,), ["dee"], id="extra-beats-layers"),
    ],
)
def test_overrides_win(moment, extra, expected):
    assert on_call(WITH_OVERRIDE, moment, UTC, extra) == expected


WEEKDAYS_9_TO_5 = schedule(
    {"name": "office", "members": ["ana"], "start": "2026-11-02T00:00Z", "hours": [{}]}
)
SATURDAY_COVER = override("bo", utc(2026, 11, 28, 10), utc(2026, 11, 28, 12))


@pytest.mark.parametrize(
    ("sched", "start", "end", "extra", "expected"),
    [
        pytest.param(
            WEEKDAYS_9_TO_5,
            utc(2026, 11, 27, 16),
            utc(2026, 11, 30, 10),
            (),
            [(utc(2026, 11, 27, 17), utc(2026, 11, 30, 9))],
            id="weekend-merged",
        ),
        pytest.param(
            WEEKDAYS_9_TO_5,
            utc(2026, 11, 27, 16),
            utc(2026, 11, 30, 10),
            (SATURDAY_COVER,),
            [
                (utc(2026, 11, 27, 17), utc(2026, 11, 28, 10)),
                (utc(2026, 11, 28, 12), utc(2026, 11, 30, 9)),
            ],
            id="override-splits-gap",
        ),
        pytest.param(
            WEEKDAYS_9_TO_5,
            utc(2026, 11, 27, 17),
            utc(2026, 11, 27, 17, 20),
            (),
            [(utc(2026, 11, 27, 17), utc(2026, 11, 27, 17, 20))],
            id="clipped-to-end",
        ),
        pytest.param(WEEKLY, utc(2026, 11, 1), utc(2026, 11, 30), (), [], id="always-covered"),
    ],
)
def test_coverage_gaps(sched, start, end, extra, expected):
    assert coverage_gaps(sched, start, end, UTC, extra_overrides=extra) == expected


def test_coverage_gaps_step_real_time_across_dst():
    # 00:00 EDT to 03:00 EST on 2026-11-01 is four real hours; the second 01:00 (EST) is
    # covered, which stepping in wall-clock time would skip over.
    start, end = ny(2026, 11, 1, 0), ny(2026, 11, 1, 3)
    cover = override("ana", utc(2026, 11, 1, 6), utc(2026, 11, 1, 7))
    gaps = coverage_gaps(schedule(), start, end, NY, 3600, extra_overrides=[cover])
    assert [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in gaps] == [
        (utc(2026, 11, 1, 4), utc(2026, 11, 1, 6)),
        (utc(2026, 11, 1, 7), utc(2026, 11, 1, 8)),
    ]
    assert all(a.tzinfo is NY and b.tzinfo is NY for a, b in gaps)


ICAL = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//escalation tests//EN
BEGIN:VEVENT
UID:weekly-ana
SUMMARY:ana
DTSTART;TZID=America/New_York:20261102T090000
DTEND;TZID=America/New_York:20261102T170000
RRULE:FREQ=WEEKLY;COUNT=3
END:VEVENT
BEGIN:VEVENT
UID:thanksgiving-bo
SUMMARY:Thanksgiving cover
ATTENDEE;CN=bo:mailto:robert@example.com
DTSTART;VALUE=DATE:20261126
END:VEVENT
BEGIN:VEVENT
UID:christmas-cy
SUMMARY:Christmas cover
ATTENDEE;CN=Cy Young:mailto:cy@example.com
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261226
END:VEVENT
BEGIN:VEVENT
UID:unknown-zed
SUMMARY:zed
ATTENDEE;CN=Zed:mailto:zed@example.com
DTSTART:20261112T100000Z
DTEND:20261112T120000Z
END:VEVENT
BEGIN:VEVENT
UID:floating-cy
SUMMARY:cy
DTSTART:20261201T100000
DTEND:20261201T120000
END:VEVENT
BEGIN:VEVENT
UID:next-year
SUMMARY:dee
DTSTART:20270115T100000Z
DTEND:20270115T120000Z
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture(scope="module")
def ical_result(tmp_path_factory):
    path = tmp_path_factory.mktemp("ical") / "oncall.ics"
    path.write_text(ICAL.replace("\n", "\r\n"))
    return load_ical_overrides(path, KNOWN, utc(2026, 11, 1), utc(2027, 1, 1), NY)


def test_ical_events_become_overrides(ical_result):
    overrides, _ = ical_result
    got = sorted((o.start.astimezone(UTC), o.end.astimezone(UTC), o.owner) for o in overrides)
    assert got == [
        # The weekly event, three times: 09:00-17:00 EST.
        (utc(2026, 11, 2, 14), utc(2026, 11, 2, 22), "ana"),
        (utc(2026, 11, 9, 14), utc(2026, 11, 9, 22), "ana"),
        (utc(2026, 11, 16, 14), utc(2026, 11, 16, 22), "ana"),
        # All-day events cover whole New York days; the ATTENDEE's CN or mailto names them.
        (utc(2026, 11, 26, 5), utc(2026, 11, 27, 5), "bo"),
        # A floating time is read in the given zone.
        (utc(2026, 12, 1, 15), utc(2026, 12, 1, 17), "cy"),
        (utc(2026, 12, 24, 5), utc(2026, 12, 26, 5), "cy"),
    ]


def test_ical_unknown_owner_is_a_problem(ical_result):
    _, problems = ical_result
    assert len(problems) == 1
    assert "unknown-zed" in problems[0]
    assert "2026-11-12T10:00:00+00:00" in problems[0]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(utc(2026, 11, 9, 14, 30), ["ana"], id="weekly-occurrence"),
        pytest.param(utc(2026, 11, 9, 22), ["dee"], id="after-occurrence"),
        pytest.param(utc(2026, 11, 23, 15), ["dee"], id="after-count-ends"),
        pytest.param(utc(2026, 11, 27, 4, 59), ["bo"], id="all-day-late-evening"),
        pytest.param(utc(2026, 11, 27, 5), ["dee"], id="all-day-over"),
        pytest.param(utc(2026, 12, 25, 23), ["cy"], id="two-day-event"),
        pytest.param(utc(2026, 11, 12, 11), ["dee"], id="unknown-owner-ignored"),
    ],
)
def test_ical_overrides_in_on_call(ical_result, moment, expected):
    overrides, _ = ical_result
    sched = schedule({"name": "base", "members": ["dee"], "start": "2026-11-02T00:00Z"})
    assert on_call(sched, moment, NY, overrides) == expected


def test_invalid_ical_file_is_a_value_error(tmp_path):
    path = tmp_path / "broken.ics"
    path.write_text("not a calendar")
    with pytest.raises(ValueError, match=r"broken\.ics"):
        load_ical_overrides(path, KNOWN, utc(2026, 11, 1), utc(2026, 12, 1), NY)
