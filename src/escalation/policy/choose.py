"""Owner choice: eligibility (on shift or on call, authority, skills, capacity) and order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from escalation.schemas import ContactEvent

from .model import Owner, Route


class Loads(Protocol):
    """How many open issues an owner holds now, and when they were last given one."""

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]: ...


@dataclass(frozen=True)
class Pick:
    owner: Owner
    reasons: list[str]


def required_authority(route: Route, event: ContactEvent) -> int:
    """The route's base authority, raised by the customer's tier and the contact's urgency."""
    rule = route.min_authority
    return max(
        rule.base,
        rule.tier.get(event.customer.tier, 0),
        rule.urgency.get(event.urgency, 0),
    )


def qualifies(owner: Owner, route: Route, required: int) -> str | None:
    """Why ``owner`` may not own a contact on ``route`` whatever the time: None if they may."""
    if owner.authority < required:
        return f"authority {owner.authority} < {required}"
    missing = [s for s in route.skills if s not in owner.skills]
    if missing:
        return f"lacks skills {missing}"
    return None


def choose(
    candidates: Iterable[tuple[Owner, str | None]],
    route: Route,
    required: int,
    loads: Loads,
    now: datetime,
) -> tuple[Owner | None, list[str]]:
    """Least loaded eligible owner; ties go to whoever was given an issue longest ago.

    ``candidates`` pairs each owner with why they are not available now (off shift, not
    on call), or None.
    """
    skipped: list[str] = []
    ranked: list[tuple[int, float, str, Owner]] = []
    for owner, unavailable in candidates:
        why = unavailable or qualifies(owner, route, required)
        if why is None:
            count, last = loads.load(owner.id, now)
            if count >= owner.capacity:
                why = f"at capacity ({count}/{owner.capacity})"
            else:
                ranked.append((count, last.timestamp() if last else 0.0, owner.id, owner))
        if why is not None:
            skipped.append(f"{owner.id}: {why}")
    if not ranked:
        return None, skipped
    ranked.sort(key=lambda r: r[:3])
    count, _, _, owner = ranked[0]
    tied = sum(1 for r in ranked if r[0] == count)
    note = f"{owner.id}: least loaded ({count} open)" + (
        f", longest since last assignment of {tied}" if tied > 1 else ""
    )
    return owner, [*skipped, note]
