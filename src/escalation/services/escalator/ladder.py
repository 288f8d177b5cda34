"""The escalation ladder: its snapshot, when the next level or repeat is due, whom it pages.

Level 1 is the page that opens the escalation (the owner). Level n+1 is the ladder's
n-th step: it fires ``after`` the escalation opened, or earlier when ``ack_timeout``
passes without an acknowledgement of the level before. A level that fires off
schedule (ack timeout, missed commitment, customer deadline) moves the rest of the
ladder with it, keeping the gaps between steps. A step's ``repeat`` pages the same
level again every ``every`` until the next level takes over or someone acknowledges.

Delays are elapsed time: ``after: 1d`` is 24 hours, also across a daylight-saving
change, because what it measures is how long a customer has waited.

The ladder's shape is frozen when the escalation opens (``Snapshot``); who is on call
for a schedule step is resolved when the step fires, through a ``Roster`` the caller
passes (the policy in force then), so a rotation's handoff is honoured mid-escalation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from escalation.schemas import EscalationSettings
from escalation.schemas.base import built
from escalation.schemas.state import PAGING, IssueState, Notify, Rung, Snapshot

from .effects import spoken


class Roster(Protocol):
    """Who the policy in force names; pure functions of the policy and a moment."""

    def on_call(self, schedule_id: str, at: datetime) -> list[str]: ...
    def owner_targets(self, owner_id: str) -> list[str]: ...
    def team_targets(self, team_id: str) -> list[str]: ...
    def authority(self, owner_id: str) -> int | None: ...
    def teams(self, owner_id: str) -> list[str]: ...


@dataclass(frozen=True)
class Reached:
    """Whom a page reaches: a label for reasons, people when known, their targets."""

    label: str
    people: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """The next thing the ladder does: page ``level`` (its ``loop``-th repeat) at ``due``."""

    due: datetime
    level: int
    loop: int
    reason: str


EMPTY = Snapshot()


def snapshot_of(settings: EscalationSettings) -> Snapshot:
    """The settings an escalation keeps for its whole life, taken when it opens."""
    return built(
        Snapshot,
        ladder=tuple(
            Rung(s.after_seconds, s.notify, s.to, s.repeat, s.every_seconds)
            for s in settings.ladder
        ),
        ack_timeout=settings.ack_timeout_seconds,
        reopen_window=settings.reopen_window_seconds,
        followup_after=settings.followup_after_seconds,
        followup_in_customer_hours=settings.followup_in_customer_hours or None,
        csat=settings.reopen_csat,
        sentiment=settings.reopen_sentiment,
    )


def rung(snapshot: Snapshot, level: int) -> Rung | None:
    """The step behind ``level`` (2 and up); past the ladder's top, its last step."""
    if level < 2 or not snapshot.ladder:
        return None
    return snapshot.ladder[min(level - 2, len(snapshot.ladder) - 1)]


def _offset(snapshot: Snapshot, level: int) -> int:
    found = rung(snapshot, level)
    return found.after if found is not None else 0


def next_step(state: IssueState) -> Step | None:
    """When the ladder next pages, and what; None when it is stopped or at its top."""
    if state.status not in PAGING or state.level_at is None:
        return None
    snapshot = state.snapshot or EMPTY
    level, loop, at = state.level, state.loop, state.level_at
    candidates: list[Step] = []
    if level - 1 < len(snapshot.ladder):
        following = snapshot.ladder[level - 1]
        gap = following.after - _offset(snapshot, level)
        due = at + timedelta(seconds=gap)
        reason = f"ladder.step: level {level + 1} at {spoken(following.after)}, not acknowledged"
        timeout = snapshot.ack_timeout
        if timeout is not None and at + timedelta(seconds=timeout) < due:
            due = at + timedelta(seconds=timeout)
            reason = f"ladder.ack_timeout: level {level} not acknowledged within {spoken(timeout)}"
        candidates.append(Step(due, level + 1, 0, reason))
    current = rung(snapshot, level) if level - 2 < len(snapshot.ladder) else None
    if current is not None and current.every and loop < current.repeat:
        due = at + timedelta(seconds=current.every * (loop + 1))
        reason = f"ladder.repeat: level {level}, repeat {loop + 1} of {current.repeat}"
        candidates.append(Step(due, level, loop + 1, reason))
    # The next level wins a tie with a repeat: it reaches further.
    return min(candidates, key=lambda s: (s.due, -s.level), default=None)


def whom(notify: Notify, to: str | None, state: IssueState) -> tuple[str, str]:
    """(kind, id) a notify names for this issue: owner, team or schedule."""
    if notify == "owner":
        return "owner", state.owner
    if notify == "fallback_owner":
        return "owner", to or state.owner
    if notify == "schedule":
        return "schedule", to or ""
    return "team", to or state.team


def reach(
    notify: Notify, to: str | None, state: IssueState, at: datetime, roster: Roster | None
) -> Reached:
    """Resolve a notify to people and targets with the policy in force at ``at``."""
    kind, ident = whom(notify, to, state)
    prefix = "fallback " if notify.startswith("fallback") else ""
    if kind == "schedule":
        people = tuple(roster.on_call(ident, at)) if roster else ()
        named = ", ".join(people) if people else ("nobody" if roster else "unresolved")
        targets = tuple(t for p in people for t in roster.owner_targets(p)) if roster else ()
        return Reached(f"on call for {ident}: {named}", people, targets)
    if kind == "owner":
        targets = tuple(roster.owner_targets(ident)) if roster else ()
        return Reached(f"{prefix}owner {ident}", (ident,), targets)
    targets = tuple(roster.team_targets(ident)) if roster else ()
    return Reached(f"{prefix}team {ident}", (), targets)


def level_notify(state: IssueState, level: int) -> tuple[Notify, str | None]:
    """Whom ``level`` pages: the owner at 1, its step above; past a missing ladder, the team."""
    if level <= 1:
        return "owner", None
    found = rung(state.snapshot or EMPTY, level)
    return (found.notify, found.to) if found is not None else ("team", None)
