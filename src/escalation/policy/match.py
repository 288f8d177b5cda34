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


_FIELDS: dict[str, Callable[[ContactEvent], str | None]] = {
    "summary": lambda e: e.summary,
    "category": lambda e: e.category,
    "product": lambda e: e.product,
    "issue_key": lambda e: e.issue_key,
    "source": lambda e: e.source,
    "channel": lambda e: e.channel,
    "customer.id": lambda e: e.customer.id,
    "customer.tier": lambda e: e.customer.tier,
}


def field_text(event: ContactEvent, name: str) -> str | None:
    """The text of a contact field named as in policies (``customer.id``, ``attributes.x``)."""
    if name.startswith("attributes."):
        return event.attributes.get(name.removeprefix("attributes."))
    getter = _FIELDS.get(name)
    return getter(event) if getter else None


Check = Callable[[ContactEvent], str | None]

REGEX_FIELDS = tuple(_FIELDS)


def _in_range(bounds: Range, value: float | None) -> bool:
    if value is None:
        return False
    return (bounds.min is None or value >= bounds.min) and (
        bounds.max is None or value <= bounds.max
    )


class Matcher:
    """Evaluates route matches for one policy; holds its holiday calendar and zone."""

    def __init__(self, policy: Policy, calendar: HolidayCalendar) -> None:
        self.policy = policy
        self.calendar = calendar
        self.zone = ZoneInfo(policy.timezone)
        self._compiled: dict[int, tuple[Match, list[Check]]] = {}

    def misses(self, match: Match, event: ContactEvent) -> list[str]:
        """Why ``match`` does not match ``event``: empty when it matches."""
        # Keyed by identity, holding the match itself so its id cannot be reused.
        cached = self._compiled.get(id(match))
        if cached is None or cached[0] is not match:
            cached = self._compiled[id(match)] = (match, self._compile(match))
        checks = cached[1]
        return [why for check in checks if (why := check(event)) is not None]

    def _compile(self, match: Match) -> list[Check]:
        """One check per condition the match sets: unset conditions cost nothing per event."""
        checks: list[Check] = []

        def listed(
            name: str, allowed: list[str] | None, value: Callable[[ContactEvent], str | None]
        ) -> None:
            if allowed is not None:
                wanted, listed = frozenset(allowed), str(allowed)  # its text made once
                checks.append(
                    lambda e: None if value(e) in wanted else f"{name} {value(e)} not in {listed}"
                )

        listed("customer.tier", match.tier, lambda e: e.customer.tier)
        if match.customer_id is not None:
            ids = frozenset(match.customer_id)
            checks.append(
                lambda e: (
                    None if e.customer.id in ids else f"customer.id {e.customer.id} not listed"
                )
            )
        listed("channel", match.channel, lambda e: e.channel)
        listed("source", match.source, lambda e: e.source)
        if match.category is not None:
            prefixes = str(match.category)  # its text made once
            exact, dotted = frozenset(match.category), tuple(p + "." for p in match.category)
            checks.append(
                lambda e: (
                    None
                    if e.category in exact or e.category.startswith(dotted)
                    else f"category {e.category} not under {prefixes}"
                )
            )
        listed("product", match.product, lambda e: e.product)
        listed("urgency", match.urgency, lambda e: e.urgency)
        for name, bounds in (("sentiment", match.sentiment), ("csat", match.csat)):
            if bounds is not None:
                checks.append(_range_check(name, bounds))
        for key, wanted in (match.attributes or {}).items():
            checks.append(_attribute_check(key, wanted))
        for name, expression in (match.regex or {}).items():
            checks.append(_regex_check(name, expression))
        if match.when is not None:
            checks.append(lambda e: "; ".join(self._time_misses(match, e)) or None)
        return checks

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


def _range_check(name: str, bounds: Range) -> Check:
    def check(event: ContactEvent) -> str | None:
        value = getattr(event, name)
        return None if _in_range(bounds, value) else f"{name} {value} outside {_bounds(bounds)}"

    return check


def _attribute_check(key: str, wanted: str) -> Check:
    def check(event: ContactEvent) -> str | None:
        value = event.attributes.get(key)
        if value is None or (wanted != "*" and value != wanted):
            return f"attributes.{key} is {value!r}, not {wanted!r}"
        return None

    return check


def _regex_check(name: str, expression: str) -> Check:
    pattern = _pattern(expression)

    def check(event: ContactEvent) -> str | None:
        text = field_text(event, name)
        if text is None or not pattern.search(text):
            return f"{name} does not match /{expression}/"
        return None

    return check


def _bounds(bounds: Range) -> str:
    low = "-inf" if bounds.min is None else f"{bounds.min:g}"
    high = "inf" if bounds.max is None else f"{bounds.max:g}"
    return f"[{low}, {high}]"
