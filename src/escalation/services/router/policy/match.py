"""Route matching: which routes a contact matches, and why each did or did not."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from escalation.schemas import ContactEvent

from .hours import HolidayCalendar, business_hours
from .model import Match, Policy, Range


@cache
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


def field_text(event: ContactEvent, name: str) -> str | None:
    """The text of a contact field named as in policies (``customer.id``, ``attributes.x``)."""
    if name.startswith("attributes."):
        return event.attributes.get(name.removeprefix("attributes."))
    getters: dict[str, Callable[[ContactEvent], str | None]] = {
        "summary": lambda e: e.summary,
        "category": lambda e: e.category,
        "product": lambda e: e.product,
        "issue_key": lambda e: e.issue_key,
        "source": lambda e: e.source,
        "channel": lambda e: e.channel,
        "customer.id": lambda e: e.customer.id,
        "customer.tier": lambda e: e.customer.tier,
    }
    getter = getters.get(name)
    return getter(event) if getter else None


REGEX_FIELDS = (
    "summary",
    "category",
    "product",
    "issue_key",
    "source",
    "channel",
    "customer.id",
    "customer.tier",
)


def _in_range(bounds: Range, value: float | None) -> bool:
    if value is None:
        return False
    return (bounds.min is None or value >= bounds.min) and (
        bounds.max is None or value <= bounds.max
    )


def _category_matches(prefixes: list[str], category: str) -> bool:
    return any(category == p or category.startswith(p + ".") for p in prefixes)


class Matcher:
    """Evaluates route matches for one policy; holds its holiday calendar and zone."""

    def __init__(self, policy: Policy, calendar: HolidayCalendar) -> None:
        self.policy = policy
        self.calendar = calendar
        self.zone = ZoneInfo(policy.timezone)

    def misses(self, match: Match, event: ContactEvent) -> list[str]:
        """Why ``match`` does not match ``event``: empty when it matches."""
        out: list[str] = []
        tier = event.customer.tier
        if match.tier is not None and tier not in match.tier:
            out.append(f"customer.tier {tier} not in {match.tier}")
        if match.customer_id is not None and event.customer.id not in match.customer_id:
            out.append(f"customer.id {event.customer.id} not listed")
        if match.channel is not None and event.channel not in match.channel:
            out.append(f"channel {event.channel} not in {match.channel}")
        if match.source is not None and event.source not in match.source:
            out.append(f"source {event.source} not in {match.source}")
        if match.category is not None and not _category_matches(match.category, event.category):
            out.append(f"category {event.category} not under {match.category}")
        if match.product is not None and event.product not in match.product:
            out.append(f"product {event.product} not in {match.product}")
        if match.urgency is not None and event.urgency not in match.urgency:
            out.append(f"urgency {event.urgency} not in {match.urgency}")
        if match.sentiment is not None and not _in_range(match.sentiment, event.sentiment):
            out.append(f"sentiment {event.sentiment} outside {_bounds(match.sentiment)}")
        if match.csat is not None and not _in_range(match.csat, event.csat):
            out.append(f"csat {event.csat} outside {_bounds(match.csat)}")
        for key, wanted in (match.attributes or {}).items():
            value = event.attributes.get(key)
            if value is None or (wanted != "*" and value != wanted):
                out.append(f"attributes.{key} is {value!r}, not {wanted!r}")
        for name, expression in (match.regex or {}).items():
            text = field_text(event, name)
            if text is None or not _pattern(expression).search(text):
                out.append(f"{name} does not match /{expression}/")
        if match.when is not None:
            out += self._time_misses(match, event)
        return out

    def _time_misses(self, match: Match, event: ContactEvent) -> list[str]:
        assert match.when is not None
        when = match.when
        zone = self.zone
        if when.zone == "customer" and event.customer.timezone:
            zone = ZoneInfo(event.customer.timezone)
        out = []
        moment: datetime = event.occurred_at
        if when.business_hours is not None:
            inside = business_hours(self.policy.business_hours, moment, zone, self.calendar)
            if inside != when.business_hours:
                out.append(
                    f"{'outside' if when.business_hours else 'within'} business hours ({zone.key})"
                )
        if when.holiday is not None:
            holiday = self.calendar.is_holiday(moment.astimezone(zone).date())
            if holiday != when.holiday:
                out.append("not a holiday" if when.holiday else "a holiday")
        return out


def _bounds(bounds: Range) -> str:
    low = "-inf" if bounds.min is None else f"{bounds.min:g}"
    high = "inf" if bounds.max is None else f"{bounds.max:g}"
    return f"[{low}, {high}]"
