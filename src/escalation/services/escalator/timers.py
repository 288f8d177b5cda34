"""What is due next in an issue, and what a tick fires. Pure: no Kafka, no clock.

An issue has at most five kinds of deadline, each live only in some statuses: the
ladder's next level or repeat (open, reopened), the owner's commitment (acked: ``eta``),
the customer's deadline less its lead (not yet acknowledged), the follow-up (resolved),
and the end of a held page's wait (``holds.py``). ``next_due`` is the earliest; a
scanner sends ``tick_for(state)`` when it passes, and ``decide_tick`` fires whatever is
due at ``now``, at most once: the tick must carry the state's current version (every
timer change bumps it), and whatever fires clears or advances its own deadline, so a
resent or late tick does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from escalation.schemas import Tick
from escalation.schemas.base import built, copied
from escalation.schemas.state import CONTACTS_SHOWN, PAGING, IssueState

from .effects import Decision, record, settle, spoken
from .followups import waited
from .ladder import EMPTY, Roster, Step, next_step
from .moves import deadline_reason, open_escalation, paged, step_up

MOVES_LIMIT = 2000
"""More moves than any ladder can make in one tick (levels x repeats): a safety bound."""


def _due(state: IssueState) -> list[tuple[datetime, str]]:
    found: list[tuple[datetime, str]] = []
    if state.deadline_due is not None and (state.status is None or state.status in PAGING):
        found.append((state.deadline_due, "deadline"))
    if state.status == "acked" and state.eta is not None:
        found.append((state.eta, "eta"))
    step = next_step(state)
    if step is not None:
        found.append((step.due, "step"))
    if state.status == "resolved" and state.followup_due is not None:
        found.append((state.followup_due, "followup"))
    if state.hold is not None and state.hold.until is not None:
        found.append((state.hold.until, "release"))
    return found


def deadlines(state: IssueState) -> dict[str, datetime]:
    """Each live deadline by kind (step, eta, deadline, followup): what the query shows."""
    return {kind: due for due, kind in _due(state)}


def next_due(state: IssueState) -> datetime | None:
    """When something in this issue is next due, or None when nothing is."""
    return min((due for due, _ in _due(state)), default=None)


def tick_for(state: IssueState) -> Tick | None:
    """The tick a scanner sends for this issue once ``next_due`` has passed."""
    due = next_due(state)
    if due is None:
        return None
    # Every written state asks (the deadline index): its values are the state's own.
    return built(
        Tick, customer_id=state.customer_id, issue_id=state.issue_id, version=state.version, due=due
    )


def decide_tick(
    state: IssueState | None, tick: Tick, now: datetime, roster: Roster | None = None
) -> Decision:
    """Fire everything due at ``now`` in the order it fell due; ``stale`` for an old tick."""
    if state is None:
        return Decision(None, outcome="unknown", note="no state for this issue")
    if tick.version != state.version:
        return Decision(
            state, outcome="stale", note=f"tick v{tick.version}, state v{state.version}"
        )
    now = now.astimezone(UTC)
    first = next_due(state)
    if first is None or first > now:
        return Decision(state, outcome="early", note="nothing due yet")
    merged = Decision(state, outcome="early", due=first)
    current = state
    for _ in range(MOVES_LIMIT):
        found = _due(current)
        if not found:
            break
        due, kind = min(found, key=lambda pair: pair[0])
        if due > now:
            break
        move = _MOVES[kind](current, due, now, roster)
        _merge(merged, current, move)
        current = move.state or current
    merged.state = current
    return settle(state, merged)


def _merge(merged: Decision, before: IssueState, move: Decision) -> None:
    """Add a move's effects; a repeat replaces the page it repeats when both are due now."""
    after = move.state
    repeat = after is not None and after.loop > 0 and after.level == before.level
    if repeat and merged.pages and merged.pages[-1].level == before.level:
        merged.pages.pop()
        for i in range(len(merged.escalations) - 1, -1, -1):
            if merged.escalations[i].type == "paged":
                del merged.escalations[i]
                break
    merged.escalations += move.escalations
    merged.pages += move.pages
    merged.outcome = move.outcome


def _ladder(state: IssueState, due: datetime, now: datetime, roster: Roster | None) -> Decision:
    step = next_step(state)
    assert step is not None
    return fire_step(state, step, now, roster)


def fire_step(state: IssueState, step: Step, now: datetime, roster: Roster | None) -> Decision:
    """Page the ladder's next level or repeat; the level's clock starts when it fell due."""
    moved = step.level != state.level
    update: dict[str, object] = {"level": step.level, "loop": step.loop}
    if moved:
        update["level_at"] = step.due
    advanced = copied(state, update)
    cause = f"step:{advanced.cycle}.{advanced.level}.{advanced.loop}"
    pages = paged(advanced, now, step.reason, cause, roster)
    stepped = [record("stepped", advanced, now, step.reason, cause)] if moved else []
    return Decision(
        advanced,
        escalations=[*stepped, *pages.escalations],
        pages=pages.pages,
        outcome="stepped" if moved else "repeated",
    )


def _eta(state: IssueState, due: datetime, now: datetime, roster: Roster | None) -> Decision:
    reason = (
        f"eta.missed: {state.owner} committed to {due.isoformat()} and it is not resolved; "
        f"up one level"
    )
    return step_up(state, due, now, reason, f"eta:{state.cycle}.{state.level}", roster)


def _deadline(state: IssueState, due: datetime, now: datetime, roster: Roster | None) -> Decision:
    reason = deadline_reason(state)
    if state.status is None:
        armed = copied(state, {"deadline_due": None})
        contacts = [m.event_id for m in state.contacts][-CONTACTS_SHOWN:]
        cause = f"deadline:{state.escalation_seq + 1}"
        snapshot = state.snapshot or EMPTY
        return open_escalation(armed, now, reason, cause, snapshot, contacts)
    return step_up(state, due, now, reason, f"deadline:{state.cycle}.{state.level}", roster)


def _followup(state: IssueState, due: datetime, now: datetime, roster: Roster | None) -> Decision:
    done = copied(state, {"followup_due": None})
    seconds = int((due - (state.resolved_at or due)).total_seconds())
    reason = (
        f"followup.due: resolved {spoken(seconds)} ago; check back with the customer"
        f"{waited(state, seconds)}"
    )
    event = record("followup_due", done, now, reason, f"followup:{state.cycle}")
    return Decision(done, escalations=[event], outcome="followup")


def _release(state: IssueState, due: datetime, now: datetime, roster: Roster | None) -> Decision:
    """A held page's time came: mark it due; ``holds.apply_holds`` checks again and sends it."""
    assert state.hold is not None
    due_now = copied(state.hold, {"until": None})
    return Decision(copied(state, {"hold": due_now}), outcome="release")


_MOVES: dict[str, Callable[[IssueState, datetime, datetime, Roster | None], Decision]] = {
    "deadline": _deadline,
    "eta": _eta,
    "step": _ladder,
    "followup": _followup,
    "release": _release,
}
