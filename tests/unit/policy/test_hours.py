from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from escalation.policy.hours import (
    HolidayCalendar,
    business_hours,
    in_hours,
    on_shift,
)
from escalation.policy.model import Holidays, Hours, Owner

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
TYO = "Asia/Tokyo"
TOKYO = ZoneInfo(TYO)
NINE_TO_FIVE = [Hours.model_validate({})]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def owner(**fields: object) -> Owner:
    return Owner.model_validate(
        {"id": "ana", "name": "Ana", "teams": ["t"], "authority": 1} | fields
    )


@pytest.mark.parametrize(
    ("hours", "moment", "zone", "expected"),
    [
        # 2026-11-25 is a Wednesday.
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 14), NY, True, id="ny-9am"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 13, 59), NY, False, id="ny-before-9"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 22), NY, False, id="ny-5pm-end-exclusive"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 14), BERLIN, True, id="berlin-3pm"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 16), BERLIN, False, id="berlin-5pm"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 14), TOKYO, False, id="tokyo-11pm"),
        # Wednesday 23:30 UTC is already Thursday 08:30 in Tokyo: the local weekday counts.
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 25, 23, 30), TOKYO, False, id="tokyo-830"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 26, 0, 30), TOKYO, True, id="tokyo-930-next"),
        # 01:00 UTC is 10:00 in Tokyo: Friday is a work day there, Saturday is not.
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 27, 1), TOKYO, True, id="tokyo-friday"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 28, 1), TOKYO, False, id="tokyo-saturday"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 28, 14), NY, False, id="saturday"),
        pytest.param(NINE_TO_FIVE, utc(2026, 11, 29, 14), NY, False, id="sunday"),
    ],
)
def test_in_hours_across_zones(hours, moment, zone, expected):
    assert in_hours(hours, moment, zone) is expected


LATE = [Hours.model_validate({"days": ["sat", "sun"], "start": "18:00", "end": "24:00"})]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(datetime(2026, 11, 28, 17, 59, 59), False, id="saturday-before-start"),
        pytest.param(datetime(2026, 11, 28, 18), True, id="start-inclusive"),
        pytest.param(datetime(2026, 11, 28, 23, 59, 59, 999999), True, id="last-microsecond"),
        pytest.param(datetime(2026, 11, 29, 0, 0), False, id="sunday-midnight-before-start"),
        pytest.param(datetime(2026, 11, 29, 23, 59, 59, 999999), True, id="sunday-last-us"),
        pytest.param(datetime(2026, 11, 30, 0, 0), False, id="monday-midnight"),
        pytest.param(datetime(2026, 11, 27, 23, 0), False, id="friday-night"),
    ],
)
def test_end_of_day_24_00(moment, expected):
    assert LATE[0].end == time.max
    assert in_hours(LATE, moment.replace(tzinfo=BERLIN), BERLIN) is expected


def test_naive_moment_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        in_hours(NINE_TO_FIVE, datetime(2026, 11, 25, 12), NY)


@pytest.mark.parametrize(
    ("holidays", "day", "expected"),
    [
        pytest.param({"countries": ["US"]}, date(2026, 11, 26), True, id="us-thanksgiving"),
        pytest.param({"countries": ["US"]}, date(2026, 11, 25), False, id="us-ordinary"),
        pytest.param({"countries": ["DE"]}, date(2026, 1, 6), False, id="de-no-epiphany"),
        pytest.param({"countries": ["DE-BY"]}, date(2026, 1, 6), True, id="de-by-epiphany"),
        pytest.param({"countries": ["DE-BY"]}, date(2027, 1, 6), True, id="next-year-loads"),
        pytest.param({"countries": ["US", "DE-BY"]}, date(2026, 1, 6), True, id="either"),
        pytest.param({"dates": ["2026-12-24"]}, date(2026, 12, 24), True, id="explicit"),
        pytest.param({"dates": ["2026-12-24"]}, date(2026, 12, 23), False, id="explicit-other"),
        pytest.param({}, date(2026, 12, 25), False, id="none-configured"),
    ],
)
def test_is_holiday(holidays, day, expected):
    assert HolidayCalendar(Holidays.model_validate(holidays)).is_holiday(day) is expected


def test_check_reports_unknown_codes_without_raising():
    calendar = HolidayCalendar(Holidays.model_validate({"countries": ["US", "XX", "DE-ZZ"]}))
    problems = calendar.check()
    assert len(problems) == 2
    assert "'XX'" in problems[0]
    assert "'DE-ZZ'" in problems[1]
    assert HolidayCalendar(Holidays.model_validate({"countries": ["US", "DE-BY"]})).check() == []


def test_unknown_country_raises_value_error_naming_it():
    calendar = HolidayCalendar(Holidays.model_validate({"countries": ["XX"]}))
    with pytest.raises(ValueError, match="'XX'"):
        calendar.is_holiday(date(2026, 1, 1))


US = HolidayCalendar(Holidays.model_validate({"countries": ["US"]}))
THANKSGIVING_10AM_NY = utc(2026, 11, 26, 15)
WEDNESDAY_10AM_NY = utc(2026, 11, 25, 15)


@pytest.mark.parametrize(
    ("fields", "moment", "expected"),
    [
        pytest.param({}, utc(2026, 11, 29, 3), True, id="no-hours-always"),
        pytest.param({}, THANKSGIVING_10AM_NY, True, id="no-hours-ignores-holiday"),
        pytest.param({"hours": [{}]}, WEDNESDAY_10AM_NY, True, id="hours-in-default-zone"),
        pytest.param({"hours": [{}]}, utc(2026, 11, 25, 23), False, id="after-hours"),
        pytest.param({"hours": [{}]}, THANKSGIVING_10AM_NY, False, id="holiday-off"),
        pytest.param(
            {"hours": [{}], "works_holidays": True}, THANKSGIVING_10AM_NY, True, id="works-holidays"
        ),
        # 15:00 UTC is 16:00 in Berlin (in hours) and 10:00 in New York (the default zone).
        pytest.param(
            {"hours": [{"start": "08:00", "end": "15:00"}], "timezone": "Europe/Berlin"},
            WEDNESDAY_10AM_NY,
            False,
            id="own-zone-berlin-after-3pm",
        ),
        pytest.param(
            {"hours": [{"start": "08:00", "end": "15:00"}], "timezone": "Europe/Berlin"},
            utc(2026, 11, 25, 8),
            True,
            id="own-zone-berlin-9am",
        ),
        # Wednesday 11:00 in New York is already Thanksgiving (Thursday 01:00) in Tokyo:
        # the holiday is looked up on the owner's own local date.
        pytest.param(
            {"hours": [{"days": ["thu"], "start": "00:00", "end": "12:00"}], "timezone": TYO},
            utc(2026, 11, 25, 16),
            False,
            id="holiday-on-owner-local-date",
        ),
        pytest.param(
            {"hours": [{"days": ["thu"], "start": "00:00", "end": "12:00"}], "timezone": TYO},
            utc(2026, 11, 18, 16),
            True,
            id="owner-local-thursday-week-before",
        ),
    ],
)
def test_on_shift(fields, moment, expected):
    assert on_shift(owner(**fields), moment, NY, US) is expected


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        pytest.param(WEDNESDAY_10AM_NY, NY, True, id="weekday-in-hours"),
        pytest.param(THANKSGIVING_10AM_NY, NY, False, id="thanksgiving"),
        pytest.param(utc(2026, 11, 28, 15), NY, False, id="saturday"),
        pytest.param(utc(2026, 11, 25, 23), NY, False, id="evening"),
        # 03:00 UTC Thursday is 22:00 Wednesday in New York: out of hours, not yet a holiday.
        pytest.param(utc(2026, 11, 26, 3), NY, False, id="evening-before"),
        # Thanksgiving 10:00 in Berlin: in hours, and the US calendar still applies.
        pytest.param(utc(2026, 11, 26, 9), BERLIN, False, id="us-holiday-seen-from-berlin"),
        pytest.param(utc(2026, 11, 27, 9), BERLIN, True, id="day-after-in-berlin"),
    ],
)
def test_business_hours(moment, zone, expected):
    assert business_hours(NINE_TO_FIVE, moment, zone, US) is expected
