"""A surge as an escalation of its own: (state, surge record, now) -> Decision.

The surge service writes ``surge.opened``, ``surge.updated`` and ``surge.closed`` to
``surges.v1``, keyed by the surge's own customer id (``surge:<rule>:<value>``), so the
surge's state, its ticks and the commands on it all live on one partition, like any
issue's. Opening pages the rule's owner at level 1 through the rule's ladder, listing
the customers and issues; an update records the newly covered ones (no page); closing
resolves it with cause ``defect``. The records' ids come from the surge records'
``cause_id``, so a record read twice does nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from escalation.schemas import EscalationCommand
from escalation.schemas.base import copied
from escalation.schemas.identity import remember, seen_token
from escalation.schemas.state import IssueState
from escalation.schemas.surge import SurgeEvent

from .commands import decide_command
from .effects import Decision, record, settle
from .ladder import Roster, snapshot_of
from .moves import open_escalation

SURGE_CUSTOMER_PREFIX = "surge:"
"""Customer ids of surges' own escalations: never inhibited, never a real customer."""
NAMED_IN_SUMMARY = 12


def summary_of(event: SurgeEvent) -> str:
    """What every target shows, also those that render only the summary (Slack, email)."""
    affected = event.affected
    names = ", ".join(affected.customers[:NAMED_IN_SUMMARY])
    more = affected.customer_count - min(len(affected.customers), NAMED_IN_SUMMARY)
    tail = f" and {more} more" if more > 0 else ""
    return (
        f"{affected.customer_count} customers, {affected.issue_count} issues on "
        f"{affected.by} {affected.value}: {names}{tail}"
    )


def _surge_state(event: SurgeEvent, now: datetime) -> IssueState:
    settings = event.settings
    return IssueState(
        customer_id=event.customer_id,
        issue_id=event.issue_id,
        category=event.category,
        product=event.product,
        summary=summary_of(event)[:280],
        owner=settings.owner,
        team=settings.team,
        targets=settings.targets,
        updated_at=now,
        affected=event.affected,
    )


def decide_surge(
    state: IssueState | None, event: SurgeEvent, now: datetime, roster: Roster | None = None
) -> Decision:
    token = seen_token(event.cause_id)
    if state is not None and token in state.seen:
        return Decision(state, outcome="duplicate")
    if event.type == "surge.closed":
        return _close(state, event, now, roster)
    if state is None or state.status is None:
        fresh = _surge_state(event, now).model_copy(update={"seen": [token]})
        snapshot = snapshot_of(event.settings.escalation)
        decision = open_escalation(
            fresh, now, event.reason, event.cause_id, snapshot, [], summary_of(event)
        )
        return settle(state, decision)
    updated = copied(
        state,
        {
            "affected": event.affected,
            "summary": summary_of(event)[:280],
            "seen": remember(state.seen, token),
            "updated_at": now,
        },
    )
    return Decision(
        updated,
        escalations=[record("updated", updated, now, event.reason, event.cause_id)],
        outcome="updated",
    )


def _close(
    state: IssueState | None, event: SurgeEvent, now: datetime, roster: Roster | None
) -> Decision:
    if state is None or state.escalation_id is None:
        return Decision(state, outcome="ignored", note="the surge was never opened here")
    state = copied(state, {"affected": event.affected})
    command = EscalationCommand(
        command_id=event.cause_id,
        action="resolve",
        escalation_id=state.escalation_id,
        customer_id=state.customer_id,
        at=now,
        by="surge",
        note=event.reason,
        cause="defect",
    )
    return decide_command(state, command, now, roster)
