"""What intake refuses of schema-valid events: times far from its clock, sizes, sources.

The contact schema has no clock, so that ``policy replay`` still reads years-old
history. Intake has one: an ``occurred_at`` of year 1 or 9999 is valid RFC 3339, but the
escalator's windows around it overflow and the router's local-time matching fails, so
the event would be accepted and then dead-lettered. Refusing it here, with the window
in the message, lets the sender fix its clock or its data instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from escalation.schemas import ContactEvent, codec
from escalation.services.common.problems import Problem


def loc(index: int, field: str, batch: bool) -> list[Any]:
    """Where a field is in the body: prefixed with the item's index in an array body."""
    return [index, field] if batch else [field]


def human(span: timedelta) -> str:
    """A setting's duration in the words it was most likely written in: "365 days", "2h"."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class EventWindow:
    """The accepted ``occurred_at`` range around the time intake receives an event."""

    max_age: timedelta
    max_skew: timedelta

    def errors(
        self, events: Sequence[ContactEvent], now: datetime, batch: bool
    ) -> list[dict[str, Any]]:
        """One ``{loc, msg}`` per event whose ``occurred_at`` lies outside the window, or
        whose ``deadline`` lies further from now than ``max_age`` either way."""
        earliest, latest = now - self.max_age, now + self.max_skew
        found = [
            {
                "loc": loc(index, "occurred_at", batch),
                "msg": f"{event.occurred_at.isoformat()} is outside the accepted window "
                f"{stamp(earliest)} to {stamp(latest)} (at most {human(self.max_age)} "
                f"before and {human(self.max_skew)} after the time intake receives it)",
            }
            for index, event in enumerate(events)
            if not earliest <= event.occurred_at <= latest
        ]
        furthest = now + self.max_age
        found += [
            {
                "loc": loc(index, "deadline", batch),
                "msg": f"{event.deadline.isoformat()} is outside the accepted window "
                f"{stamp(earliest)} to {stamp(furthest)} (at most {human(self.max_age)} "
                "either side of the time intake receives it)",
            }
            for index, event in enumerate(events)
            if event.deadline is not None and not earliest <= event.deadline <= furthest
        ]
        return found


@dataclass(frozen=True)
class Admission:
    """The checks a decoded batch passes before anything of it is written."""

    window: EventWindow
    max_event_bytes: int

    def admit(
        self, events: list[ContactEvent], token_source: str | None, batch: bool, now: datetime
    ) -> list[bytes]:
        """Each event's bytes, or a Problem: empty (422), claiming a source the token is
        not for (403), outside the time window (422), over the size limit (413)."""
        if not events:
            raise Problem(
                422,
                "schema-violation",
                "the batch is empty",
                [{"loc": [], "msg": "at least one event is required"}],
            )
        if token_source is not None:
            foreign = [
                {
                    "loc": loc(i, "source", batch),
                    "msg": f"token is for source {token_source!r}, not {e.source!r}",
                }
                for i, e in enumerate(events)
                if e.source != token_source
            ]
            if foreign:
                raise Problem(
                    403, "wrong-source", "events claim a source this token is not for", foreign
                )
        outside = self.window.errors(events, now, batch)
        if outside:
            raise Problem(
                422,
                "occurred-at-outside-window",
                f"{len(outside)} time(s) outside the accepted window; first: {outside[0]['msg']}",
                outside,
            )
        encoded = [codec.encode(e) for e in events]
        limit = self.max_event_bytes
        too_big = [
            {"loc": [i] if batch else [], "msg": f"event is {len(v)} bytes; the limit is {limit}"}
            for i, v in enumerate(encoded)
            if len(v) > limit
        ]
        if too_big:
            raise Problem(
                413, "event-too-large", f"{len(too_big)} event(s) over the per-event limit", too_big
            )
        return encoded
