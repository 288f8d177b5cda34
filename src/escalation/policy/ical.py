"""Overrides from an iCalendar file (a schedule's ``ical``): reads a file, so an edge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from .model import Override


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    """An iCalendar DTSTART/DTEND as an aware datetime: dates and floating times in ``zone``."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), zone)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _candidates(event: icalendar.Event) -> Iterator[str]:
    """Names an event may give an owner by: SUMMARY, then each ATTENDEE's CN and mailto."""
    yield str(event.get("SUMMARY", "")).strip()
    attendees = event.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        yield str(attendee.params.get("CN", "")).strip()
        address = str(attendee)
        if address.lower().startswith("mailto:"):
            yield address[len("mailto:") :].partition("@")[0]


def _override(event: icalendar.Event, known: set[str], zone: ZoneInfo) -> Override | str:
    start, end = _aware(event.start, zone), _aware(event.end, zone)
    label = f"iCal event {event.get('UID', '?')} at {start.isoformat()}"
    owner = next((name for name in _candidates(event) if name in known), None)
    if owner is None:
        return f"{label}: names no known owner in SUMMARY or ATTENDEE"
    if end <= start:
        return f"{label}: has no duration"
    return Override(owner=owner, start=start, end=end)


def load_ical_overrides(
    path: Path,
    known_owners: set[str],
    window_start: datetime,
    window_end: datetime,
    zone: ZoneInfo,
) -> tuple[list[Override], list[str]]:
    """Overrides from the events of an iCalendar file within a window, and problems found."""
    try:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: not a valid iCalendar file: {exc}") from exc
    overrides: list[Override] = []
    problems: list[str] = []
    for event in recurring_ical_events.of(calendar).between(window_start, window_end):
        result = _override(event, known_owners, zone)
        if isinstance(result, str):
            problems.append(result)
        else:
            overrides.append(result)
    return overrides, problems
