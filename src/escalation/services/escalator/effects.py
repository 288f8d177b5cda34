"""What a decision produces: the new state, lifecycle records and page requests.

Every id here is derived from the state and the input alone (escalation id, level,
cycle, loop, the causing event or command id), never from a clock or a counter kept
elsewhere, so reprocessing an input yields the same ids and downstream dedup drops them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from escalation.schemas import EscalationEvent, PageRequest, page_id_for
from escalation.schemas.base import built, copied
from escalation.schemas.state import IssueState


@dataclass
class Decision:
    state: IssueState | None
    escalations: list[EscalationEvent] = field(default_factory=list)
    pages: list[PageRequest] = field(default_factory=list)
    outcome: str = "recorded"
    """recorded | duplicate | opened | grouped | reopened | stepped | acked | resolved |
    reassigned | followup | refused | stale | unknown | ignored | early"""
    note: str | None = None
    """Why nothing happened (refused, unknown, stale, ignored, early): for the log."""
    due: datetime | None = None
    """A tick's decision: the earliest deadline it fired, so lateness is ``now - due``."""


def record(
    kind: str,
    state: IssueState,
    now: datetime,
    reason: str,
    cause_id: str,
    **extra: object,
) -> EscalationEvent:
    """One lifecycle record; ``extra`` sets the optional fields (by, note, eta, cause...)."""
    assert state.escalation_id is not None
    return built(
        EscalationEvent,
        escalation_id=state.escalation_id,
        type=kind,
        at=now,
        customer_id=state.customer_id,
        issue_id=state.issue_id,
        issue_key=state.issue_key,
        category=state.category,
        product=state.product,
        owner=state.owner,
        team=state.team,
        level=state.level,
        reason=reason,
        contacts=state.escalation_contacts,
        cause_id=cause_id,
        **extra,
    )


def page(
    state: IssueState,
    action: str,
    reason: str,
    now: datetime,
    summary: str | None = None,
    extra_targets: Iterable[str] = (),
    notified: list[str] | None = None,
) -> PageRequest:
    """A page for the state's current level, cycle and loop; ``notified``: whom it pages."""
    assert state.escalation_id is not None
    targets = list(dict.fromkeys([*state.targets, *extra_targets]))
    return built(
        PageRequest,
        page_id=page_id_for(state.escalation_id, state.level, action, state.cycle, state.loop),
        action=action,
        escalation_id=state.escalation_id,
        dedup_key=state.escalation_id,
        level=state.level,
        reason=reason,
        customer_id=state.customer_id,
        customer_tier=state.customer_tier,
        issue_key=state.issue_key,
        category=state.category,
        product=state.product,
        owner=state.owner,
        team=state.team,
        summary=summary or state.summary,
        contacts=state.escalation_contacts,
        targets=targets,
        created_at=now,
        notified=notified or None,
        affected=state.affected,
    )


_NO_TIMERS = (None, 0, 0, 0, None, None, None, None)


def _timers(state: IssueState | None) -> tuple[object, ...]:
    if state is None:
        return _NO_TIMERS
    return (
        state.status,
        state.level,
        state.loop,
        state.cycle,
        state.level_at,
        state.eta,
        state.followup_due,
        state.deadline_due,
    )


def settle(before: IssueState | None, decision: Decision) -> Decision:
    """Bump the state's version when any timer changed, so ticks made before are stale."""
    after = decision.state
    if after is not None and _timers(before) != _timers(after):
        decision.state = copied(after, {"version": after.version + 1})
    return decision


def spoken(seconds: int) -> str:
    """3600 -> '1h', 5400 -> '1h30m', 90 -> '1m30s': durations as the policy writes them."""
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out or "0s"
