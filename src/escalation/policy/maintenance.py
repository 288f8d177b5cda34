"""Maintenance windows: recurring silences, scheduled in a time zone's wall clock.

A window starts at a local time (``start`` on ``days``, or each time a ``cron``
expression fires) and lasts until a wall-clock ``end`` (the next day when not after the
start) or for ``duration`` of elapsed time. Starts and ends are wall-clock times, so a
weekly 22:00 window stays at 22:00 across daylight-saving changes; ``hours.wall_instant``
says what a skipped or repeated wall-clock time means. Pure: the moment is an argument.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from croniter import croniter

from escalation.schemas.silence import Silence

from .hours import local_time, wall_instant
from .model import DAYS, Maintenance

DAY = timedelta(days=1)
FIRES_LIMIT = 2000
"""Cron fire times looked at per question: more than any window's span needs."""
SETTLED_REACH = timedelta(hours=1)
"""How far ahead ``settled_until`` vouches for a window's answer at most."""
OFFSET_SHIFT = timedelta(hours=2)
"""The largest change of a zone's UTC offset (daylight saving moves it by 1 h at most)."""


def window_zone(window: Maintenance, default_zone: ZoneInfo) -> ZoneInfo:
    return ZoneInfo(window.timezone) if window.timezone else default_zone


def cron_error(expression: str) -> str | None:
    """Why a cron expression cannot be used, or None (for the policy's validation)."""
    fields = expression.split()
    if len(fields) != 5:
        return f"cron {expression!r} needs five fields: minute hour day month weekday"
    if not croniter.is_valid(expression):
        return f"cron {expression!r} is not a valid expression"
    return None


def _span(window: Maintenance) -> timedelta:
    """The longest a window lasts: how far back its current occurrence may have started."""
    return timedelta(seconds=window.duration) if window.duration else DAY + timedelta(hours=2)


@cache
def _parsed(expression: str) -> croniter:
    """The expression parsed once: parsing costs more than finding a window's fire times,
    and the escalator asks which windows are in force for every page it decides."""
    return croniter(expression, datetime(2000, 1, 1))


def _fires(expression: str, start: datetime) -> croniter:
    fires = copy.copy(_parsed(expression))  # shares the parsed fields, never changes them
    fires.set_current(start, force=True)
    return fires


def _starts(window: Maintenance, before: datetime, since: datetime) -> Iterator[datetime]:
    """Naive local start times at or before ``before``, latest first, down to ``since``."""
    if window.cron is not None:
        fires = _fires(window.cron, before + timedelta(minutes=1))
        for _ in range(FIRES_LIMIT):
            fire = fires.get_prev(datetime)
            if fire < since:
                return
            yield fire
        return
    assert window.start is not None
    day = before.date()
    while day >= since.date():
        moment = datetime.combine(day, window.start)
        if DAYS[day.weekday()] in window.days and since <= moment <= before:
            yield moment
        day -= DAY


def _end(window: Maintenance, start_local: datetime, start: datetime, zone: ZoneInfo) -> datetime:
    if window.duration is not None:
        # In UTC: adding to a zoned datetime moves its wall clock, not elapsed time.
        return (start.astimezone(UTC) + timedelta(seconds=window.duration)).astimezone(zone)
    assert window.end is not None
    day: date = start_local.date()
    if window.end == time.max:  # "24:00": midnight at the end of the start's day
        return wall_instant(datetime.combine(day + DAY, time(0)), zone)
    if window.end <= start_local.time():
        day += DAY
    return wall_instant(datetime.combine(day, window.end), zone, later=True)


def occurrence(
    window: Maintenance, at: datetime, default_zone: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The window's occurrence in force at ``at`` as (start, end), or None outside it."""
    zone = window_zone(window, default_zone)
    local = local_time(at, zone).replace(tzinfo=None)
    # An hour either side covers a wall clock that repeats or skips an hour tonight.
    # Compared in UTC: two datetimes of one zone compare by wall clock, blind to the fold.
    at = at.astimezone(UTC)
    for start_local in _starts(window, local + timedelta(hours=1), local - _span(window) - DAY):
        start = wall_instant(start_local, zone).astimezone(UTC)
        if start > at:
            continue
        end = _end(window, start_local, start, zone).astimezone(UTC)
        if at < end:
            return start, end
    return None


def settled_until(window: Maintenance, at: datetime, default_zone: ZoneInfo) -> datetime:
    """The first instant after ``at`` at which ``occurrence`` may answer otherwise.

    The answer changes only when an occurrence starts or ends, so it holds until the
    earliest start after ``at`` or end of an occurrence in force at ``at``, and at most
    ``SETTLED_REACH`` on. A start in that reach lies within ``OFFSET_SHIFT`` of the wall
    clock's reach, which is scanned whole: the caller may keep the answer until then.
    """
    zone = window_zone(window, default_zone)
    local = local_time(at, zone).replace(tzinfo=None)
    at = at.astimezone(UTC)
    until = at + SETTLED_REACH
    ahead = local + SETTLED_REACH + OFFSET_SHIFT
    for start_local in _starts(window, ahead, local - _span(window) - DAY):
        start = wall_instant(start_local, zone).astimezone(UTC)
        if start > at:
            until = min(until, start)
            continue
        end = _end(window, start_local, start, zone).astimezone(UTC)
        if end > at:
            until = min(until, end)
    return until


def maintenance_silence(
    window: Maintenance, at: datetime, default_zone: ZoneInfo
) -> Silence | None:
    """The window as a silence for its occurrence in force at ``at``, or None."""
    found = occurrence(window, at, default_zone)
    if found is None:
        return None
    start, end = found
    return Silence(
        id=f"maintenance.{window.id}",
        matchers=window.matchers,
        starts_at=start,
        ends_at=end,
        mode=window.mode,
        created_by="policy",
        comment=window.comment,
    )
