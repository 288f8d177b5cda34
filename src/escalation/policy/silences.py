"""Which silence, if any, holds back an escalation's page at a moment.

Silences come from three places, all as :class:`~escalation.schemas.silence.Silence`:
the HTTP API (records on the controls topic), the policy file's ``silences:`` and its
``maintenance:`` windows (``maintenance.py`` turns the occurrence in force into one).
Pure: the moment is always an argument, so the live escalator and replay agree.

When several silences match, one that drops wins over any that wait (an operator said
these pages are noise); among those that wait, the one ending last, since the page
waits until no silence matches. Ties go to the smaller id, so the choice never depends
on the order silences were read in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from escalation.schemas.silence import Matcher, Silence

from .model import FileSilence

EARLIEST = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
"""The start of a file silence that names none: in force since before any contact."""


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Every matcher holds for ``labels`` (a field missing from them is the empty string)."""
    plain = dict(labels)
    return all(m.matches(plain) for m in matchers)


def in_force(silence: Silence, now: datetime) -> bool:
    """``starts_at <= now < ends_at``: a silence ends at its end, exclusive."""
    return silence.starts_at <= now < silence.ends_at


def _rank(silence: Silence) -> tuple[int, float, str]:
    # Lower ranks first: drop before wait, then the latest end, then the smallest id.
    return (0 if silence.mode == "drop" else 1, -silence.ends_at.timestamp(), silence.id)


def silenced_by(
    silences: Iterable[Silence], labels: Mapping[str, str], now: datetime
) -> Silence | None:
    """The silence holding back a page with ``labels`` at ``now``, or None."""
    found = [s for s in silences if in_force(s, now) and matches_all(s.matchers, labels)]
    return min(found, key=_rank, default=None)


def file_silence(entry: FileSilence) -> Silence:
    """A policy file's silence in the form the API's take."""
    return Silence(
        id=entry.id,
        matchers=entry.matchers,
        starts_at=entry.starts_at or EARLIEST,
        ends_at=entry.ends_at,
        mode=entry.mode,
        created_by="policy",
        comment=entry.comment,
    )


def expired(silence: Silence, at: datetime) -> Silence:
    """The silence ended at ``at`` (an expiry); one expired before it began never starts."""
    if at >= silence.ends_at:
        return silence
    # model_copy does not validate: an empty range is allowed here and matches nothing.
    return silence.model_copy(update={"ends_at": max(at, silence.starts_at)})
