"""On-call schedules: who is on call at a moment, and coverage gaps.

Like PagerDuty: active overrides win; otherwise the last layer with someone on call decides.
Nothing here reads a clock: the moment is always an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .hours import in_hours, local_time
from .model import Layer, Override, Schedule

DAY = 86400


def schedule_zone(schedule: Schedule, default_zone: ZoneInfo) -> ZoneInfo:
    """The schedule's own zone, else the default (the policy's)."""
    return ZoneInfo(schedule.timezone) if schedule.timezone else default_zone


@lru_cache(maxsize=256)
def _naive_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A layer's start as naive local time: the same few values on every call, so cached."""
    return local_time(moment, zone).replace(tzinfo=None)


def _turn(layer: Layer, moment: datetime, zone: ZoneInfo) -> int:
    """How many handoffs lie between the layer's start and ``moment`` (negative before it)."""
    every = timedelta(seconds=layer.every)
    if layer.every % DAY == 0:
        # Whole days hand off at the same wall-clock time across DST changes, so count in
        # naive local time (a 23- or 25-hour day still counts as one day).
        start = _naive_local(layer.start, zone)
        now = local_time(moment, zone).replace(tzinfo=None)
        return (now - start) // every
    # Subtract in UTC: aware datetimes sharing a tzinfo would subtract as wall-clock times.
    return (moment.astimezone(UTC) - layer.start.astimezone(UTC)) // every


def layer_member(layer: Layer, moment: datetime, zone: ZoneInfo) -> str | None:
    """The member of ``layer`` on call at ``moment``, or None outside the layer's hours."""
    if layer.hours is not None and not in_hours(layer.hours, moment, zone):
        return None
    # Python's floor division and modulo keep the rotation right before the start too.
    return layer.members[_turn(layer, moment, zone) % len(layer.members)]


def on_call(
    schedule: Schedule,
    moment: datetime,
    default_zone: ZoneInfo,
    extra_overrides: Sequence[Override] = (),
) -> list[str]:
    """Owner ids on call at ``moment``: active overrides, else the last layer's member."""
    active = [o.owner for o in (*schedule.overrides, *extra_overrides) if o.start <= moment < o.end]
    if active:
        return list(dict.fromkeys(active))
    zone = schedule_zone(schedule, default_zone)
    for layer in reversed(schedule.layers):
        member = layer_member(layer, moment, zone)
        if member is not None:
            return [member]
    return []


def coverage_gaps(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    default_zone: ZoneInfo,
    step_seconds: int = 900,
    *,
    extra_overrides: Sequence[Override] = (),
) -> list[tuple[datetime, datetime]]:
    """Periods in [start, end) where nobody is on call, sampled every ``step_seconds``."""
    if step_seconds < 1:
        raise ValueError("step_seconds must be at least 1")
    step = timedelta(seconds=step_seconds)
    # Step in UTC: adding a timedelta to a zoned datetime moves the wall clock, not real time.
    moment, stop = start.astimezone(UTC), end.astimezone(UTC)
    gaps: list[tuple[datetime, datetime]] = []
    while moment < stop:
        upto = min(moment + step, stop)
        if not on_call(schedule, moment, default_zone, extra_overrides):
            if gaps and gaps[-1][1] == moment:
                gaps[-1] = (gaps[-1][0], upto)
            else:
                gaps.append((moment, upto))
        moment = upto
    return [(a.astimezone(start.tzinfo), b.astimezone(start.tzinfo)) for a, b in gaps]
