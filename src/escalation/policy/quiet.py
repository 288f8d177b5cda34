"""Quiet hours: when a page of a low-urgency escalation may reach its responders.

A responder works while on shift (their ``hours`` in their zone, holidays off unless
they work them; without hours, the ``quiet_hours.hours`` if set, else always) or while
on call for a schedule. A page below the ``below`` urgency waits until the first of its
responders works: ``release_at`` says until when, or None to send it now. High and
critical escalations never wait. Pure: the moment is always an argument.

The next working moment is found exactly, not by sampling: working time can only begin
where an hours entry starts, a schedule layer's hours start or end, a rotation hands
off or an override starts or ends, so those instants (over ``HORIZON``) are the
candidates, each checked with the same functions that decide shifts and on-call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .hours import HolidayCalendar, in_hours, local_time, owner_zone, wall_instant
from .model import DAYS, Hours, Layer, LoadedPolicy, Owner, QuietHours, Schedule
from .schedule import DAY, on_call, schedule_zone
from .silences import matches_all

HORIZON = timedelta(days=14)
"""How far ahead a page may wait; a responder who works at no time within it is paged now."""
URGENCY_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}
HANDOFFS_LIMIT = 5000


def hours_starts(hours: Iterable[Hours], zone: ZoneInfo, at: datetime) -> Iterator[datetime]:
    """Each entry's start (and end) on each local day from ``at``'s over the horizon."""
    first = local_time(at, zone).date() - timedelta(days=1)
    for offset in range(HORIZON.days + 2):
        day = first + timedelta(days=offset)
        for entry in hours:
            if DAYS[day.weekday()] in entry.days:
                yield wall_instant(datetime.combine(day, entry.start), zone)
                if entry.end != entry.end.max:
                    yield wall_instant(datetime.combine(day, entry.end), zone)


def handoffs(layer: Layer, zone: ZoneInfo, at: datetime) -> Iterator[datetime]:
    """The layer's handoff instants from ``at`` over the horizon (as ``schedule._turn``)."""
    every = timedelta(seconds=layer.every)
    if layer.every % DAY == 0:
        start = local_time(layer.start, zone).replace(tzinfo=None)
        now = local_time(at, zone).replace(tzinfo=None)
        turn = (now - start) // every
        for k in range(turn, turn + min(HANDOFFS_LIMIT, HORIZON // every + 2)):
            yield wall_instant(start + k * every, zone)
        return
    base = layer.start.astimezone(UTC)
    turn = (at.astimezone(UTC) - base) // every
    for k in range(turn, turn + min(HANDOFFS_LIMIT, HORIZON // every + 2)):
        yield base + k * every


class QuietRules:
    """Quiet hours of one loaded policy: who works when, and until when a page waits."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        policy = loaded.policy
        self.quiet: QuietHours | None = policy.quiet_hours
        self.zone = ZoneInfo(policy.timezone)
        self.calendar = HolidayCalendar(policy.holidays)
        self.owners = {o.id: o for o in policy.owners}
        self.ical = loaded.ical_overrides
        self._schedules: dict[str, list[Schedule]] = {}
        for schedule in policy.schedules:
            named = {m for layer in schedule.layers for m in layer.members}
            named |= {o.owner for o in (*schedule.overrides, *self.ical.get(schedule.id, ()))}
            for person in named:
                self._schedules.setdefault(person, []).append(schedule)

    def waits(self, urgency: str | None, labels: Mapping[str, str]) -> bool:
        """Whether an escalation of this urgency (None: normal) is subject to quiet hours."""
        quiet = self.quiet
        if quiet is None or URGENCY_RANK.get(urgency or "normal", 1) >= URGENCY_RANK[quiet.below]:
            return False
        return quiet.matchers is None or matches_all(quiet.matchers, labels)

    def _shift(self, owner: Owner) -> list[Hours] | None:
        if owner.hours is not None:
            return owner.hours
        return self.quiet.hours if self.quiet is not None else None

    def working(self, person: str, at: datetime) -> bool:
        """On shift or on call at ``at``; a person the policy does not name always works."""
        owner = self.owners.get(person)
        if owner is None:
            return True
        shift = self._shift(owner)
        if shift is None:
            return True
        zone = owner_zone(owner, self.zone)
        if in_hours(shift, at, zone) and (
            owner.works_holidays or not self.calendar.is_holiday(local_time(at, zone).date())
        ):
            return True
        return any(
            person in on_call(s, at, self.zone, self.ical.get(s.id, ()))
            for s in self._schedules.get(person, ())
        )

    def _candidates(self, person: str, at: datetime) -> Iterator[datetime]:
        owner = self.owners[person]
        shift = self._shift(owner)
        if shift is not None:
            yield from hours_starts(shift, owner_zone(owner, self.zone), at)
        for schedule in self._schedules.get(person, ()):
            zone = schedule_zone(schedule, self.zone)
            for override in (*schedule.overrides, *self.ical.get(schedule.id, ())):
                yield from (override.start, override.end)
            for layer in schedule.layers:
                yield from handoffs(layer, zone, at)
                if layer.hours is not None:
                    yield from hours_starts(layer.hours, zone, at)

    def next_working(self, person: str, at: datetime) -> datetime | None:
        """The first moment from ``at`` on that ``person`` works, None if not in the horizon."""
        if self.working(person, at):
            return at
        at, until = at.astimezone(UTC), at.astimezone(UTC) + HORIZON
        found = sorted({c.astimezone(UTC) for c in self._candidates(person, at)})
        return next((c for c in found if at < c <= until and self.working(person, c)), None)

    def release_at(
        self,
        urgency: str | None,
        labels: Mapping[str, str],
        people: Sequence[str],
        at: datetime,
    ) -> datetime | None:
        """Until when a page to ``people`` waits; None: send it now."""
        if not people or not self.waits(urgency, labels):
            return None
        starts = [self.next_working(person, at) for person in dict.fromkeys(people)]
        if any(start is None or start <= at for start in starts):
            return None  # someone works now, or nobody within the horizon: page now
        return min(start for start in starts if start is not None)

    def customer_release_at(self, zone_name: str | None, at: datetime) -> datetime | None:
        """Until when a customer-facing follow-up waits for the customer's hours; None: now."""
        quiet = self.quiet
        if quiet is None or quiet.customer is None:
            return None
        zone = ZoneInfo(zone_name) if zone_name else self.zone
        hours = quiet.customer.hours
        if in_hours(hours, at, zone):
            return None
        at = at.astimezone(UTC)
        found = sorted({s.astimezone(UTC) for s in hours_starts(hours, zone, at)})
        return next((s for s in found if s > at and in_hours(hours, s, zone)), None)
