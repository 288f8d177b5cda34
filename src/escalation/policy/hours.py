"""Working hours, business hours and holidays, evaluated at a moment the caller gives.

Nothing here reads a clock: every function takes the moment (an aware datetime) and the
zone whose wall clock counts, so decisions can be replayed and tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as public_holidays

from .model import DAYS, Holidays, Hours, Owner


def local_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time in ``zone`` at an aware ``moment``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # astimezone() would silently read a naive moment as the machine's local time.
        raise ValueError(f"moment {moment.isoformat()} has no time zone")
    return moment.astimezone(zone)


def _within(entry: Hours, day: str, clock: time) -> bool:
    if day not in entry.days or clock < entry.start:
        return False
    # "24:00" is stored as time.max, which would otherwise exclude the day's last microsecond.
    return entry.end == time.max or clock < entry.end


def in_hours(hours: list[Hours], moment: datetime, zone: ZoneInfo) -> bool:
    """True when the local weekday and time in ``zone`` fall within some entry of ``hours``."""
    local = local_time(moment, zone)
    day, clock = DAYS[local.weekday()], local.time()
    return any(_within(entry, day, clock) for entry in hours)


def _region(code: str) -> tuple[str, str | None]:
    country, _, subdiv = code.partition("-")
    return country, subdiv or None


class HolidayCalendar:
    """Public holidays of some countries (or subdivisions) plus explicit dates."""

    def __init__(self, holidays: Holidays) -> None:
        self._codes = list(dict.fromkeys(holidays.countries))
        self._dates = frozenset(datetime.strptime(d, "%Y-%m-%d").date() for d in holidays.dates)
        self._years: dict[int, frozenset[date]] = {}

    @staticmethod
    def _load(code: str, years: Iterable[int]) -> Iterable[date]:
        country, subdiv = _region(code)
        try:
            return public_holidays.country_holidays(country, subdiv=subdiv, years=years).keys()
        except NotImplementedError as exc:  # the package's way of saying "unknown code"
            raise ValueError(f"unknown holiday country or subdivision {code!r}: {exc}") from exc

    def check(self) -> list[str]:
        """Problems with the configured codes (unknown countries/subdivisions), never raising."""
        problems = []
        for code in self._codes:
            try:
                self._load(code, ())
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    def _year(self, year: int) -> frozenset[date]:
        days = self._years.get(year)
        if days is None:
            days = frozenset(d for code in self._codes for d in self._load(code, (year,)))
            self._years[year] = days
        return days

    def is_holiday(self, day: date) -> bool:
        """True on an explicit date or a public holiday; ValueError for an unknown code."""
        return day in self._dates or day in self._year(day.year)


def owner_zone(owner: Owner, default_zone: ZoneInfo) -> ZoneInfo:
    """The owner's own zone, else the default (the policy's)."""
    return ZoneInfo(owner.timezone) if owner.timezone else default_zone


def on_shift(
    owner: Owner, moment: datetime, default_zone: ZoneInfo, calendar: HolidayCalendar
) -> bool:
    """Whether ``owner`` works at ``moment``: owners without hours always do."""
    if owner.hours is None:
        return True
    zone = owner_zone(owner, default_zone)
    if not in_hours(owner.hours, moment, zone):
        return False
    return owner.works_holidays or not calendar.is_holiday(local_time(moment, zone).date())


def business_hours(
    policy_hours: list[Hours], moment: datetime, zone: ZoneInfo, calendar: HolidayCalendar
) -> bool:
    """Within the policy's business hours and not on a holiday (local date in ``zone``)."""
    if not in_hours(policy_hours, moment, zone):
        return False
    return not calendar.is_holiday(local_time(moment, zone).date())


def wall_instant(local: datetime, zone: ZoneInfo, *, later: bool = False) -> datetime:
    """The instant a naive wall-clock time in ``zone`` names, across daylight-saving changes.

    A time the clock skips (02:30 on a spring-forward night) names the moment the clock
    jumps (03:00 new time): a window starting in the gap starts as soon as it can. A time
    the clock shows twice (01:30 on a fall-back night) names its first showing, or its
    second with ``later`` (for a window's end, so the window holds every such time).
    """
    chosen = local.replace(tzinfo=zone, fold=1 if later else 0)
    utc = chosen.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc.astimezone(zone)
    # In the gap: the two folds use the offsets either side of the jump, which lies
    # between them; bisect for the first instant whose wall clock is at or past ``local``.
    low = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(zone)
