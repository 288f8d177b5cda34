"""Pure escalation decisions: (state, input, now) -> (new state, effects).

No Kafka, HTTP or clock inside, so the live escalator and ``policy replay`` share them.
Every effect carries an id derived from the state and the input alone, so reprocessing
an input after a crash yields the same ids and downstream dedup drops the copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from escalation.schemas import (
    ContactEvent,
    EscalationCommand,
    EscalationEvent,
    PageRequest,
    Routing,
    make_escalation_id,
    page_id_for,
)
from escalation.schemas.base import trusted
from escalation.schemas.identity import remember, seen_token
from escalation.schemas.state import (
    CONTACTS_SHOWN,
    MARKS_LIMIT,
    SUMMARY_LIMIT,
    ContactMark,
    IssueState,
)


@dataclass
class Decision:
    state: IssueState | None
    escalations: list[EscalationEvent] = field(default_factory=list)
    pages: list[PageRequest] = field(default_factory=list)
    outcome: str = "recorded"
    """recorded | duplicate | opened | grouped | acked | resolved | stale | ignored"""


def _new_state(contact: ContactEvent, routing: Routing) -> IssueState:
    # Every field given: model_construct would otherwise call each default factory
    # through inspect.signature, which costs more than validating.
    return trusted(
        IssueState,
        customer_id=contact.customer.id,
        customer_tier=contact.customer.tier,
        issue_id=contact.issue_id,
        issue_key=contact.issue_key,
        category=contact.category,
        product=contact.product,
        summary=_short(contact.summary),
        owner=routing.owner,
        team=routing.team,
        targets=routing.targets,
        contacts=[],
        seen=[],
        escalation_id=None,
        escalation_seq=0,
        status=None,
        level=0,
        escalation_contacts=[],
        opened_at=None,
        updated_at=None,
    )


def _short(summary: str | None) -> str | None:
    return summary if summary is None or len(summary) <= SUMMARY_LIMIT else summary[:SUMMARY_LIMIT]


def densest_window(marks: list[ContactMark], at: datetime, window: timedelta) -> list[ContactMark]:
    """The most contacts that fit in one window containing the contact at ``at``.

    Contacts may arrive out of order (a late email, a replayed partition), so the
    window is not simply the one ending now.
    """
    best: list[ContactMark] = []
    for start in marks:
        if not (at - window <= start.at <= at):
            continue
        inside = [m for m in marks if start.at <= m.at <= start.at + window]
        if len(inside) > len(best):
            best = inside
    return best


def escalation_trigger(in_window: int, contact: ContactEvent, routing: Routing) -> str | None:
    """Why this contact opens an escalation (``in_window`` contacts counted), or None."""
    settings = routing.escalation
    if contact.urgency == "critical" and settings.page_on_critical:
        return "urgency.critical"
    if in_window >= settings.repeat_threshold:
        hours = settings.repeat_window_seconds / 3600
        return f"repeat.contacts: {in_window} contacts within {hours:g}h"
    return None


def _record(
    kind: str,
    state: IssueState,
    now: datetime,
    reason: str,
    cause: str,
    by: str | None = None,
    note: str | None = None,
) -> EscalationEvent:
    assert state.escalation_id is not None
    return EscalationEvent(
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
        by=by,
        note=note,
        cause_id=cause,
    )


def _page(
    state: IssueState, action: str, reason: str, now: datetime, summary: str | None = None
) -> PageRequest:
    assert state.escalation_id is not None
    return PageRequest(
        page_id=page_id_for(state.escalation_id, state.level, action),
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
        targets=state.targets,
        created_at=now,
    )


def decide_contact(
    state: IssueState | None, contact: ContactEvent, routing: Routing, now: datetime
) -> Decision:
    """Record a routed contact on its issue; open an escalation when a threshold is crossed."""
    token = seen_token(contact.event_id)
    if state is not None and token in state.seen:
        return Decision(state, outcome="duplicate")
    state = state or _new_state(contact, routing)
    window = timedelta(seconds=routing.escalation.repeat_window_seconds)
    horizon = contact.occurred_at - window
    marks = [m for m in state.contacts if horizon <= m.at <= contact.occurred_at + window]
    marks = sorted(
        [*marks, trusted(ContactMark, event_id=contact.event_id, at=contact.occurred_at)],
        key=lambda m: m.at,
    )[-MARKS_LIMIT:]
    in_window = densest_window(marks, contact.occurred_at, window)
    active = state.status in ("open", "acked")
    state = state.model_copy(
        update={
            "contacts": marks,
            "seen": remember(state.seen, token),
            "customer_tier": contact.customer.tier,
            "summary": _short(contact.summary) or state.summary,
            # An open issue keeps its owner: the customer never starts over with someone new.
            "owner": state.owner if active else routing.owner,
            "team": state.team if active else routing.team,
            "targets": state.targets if active else routing.targets,
            "updated_at": now,
        }
    )
    if active:
        grouped = state.model_copy(
            update={
                "escalation_contacts": [*state.escalation_contacts, contact.event_id][
                    -CONTACTS_SHOWN:
                ]
            }
        )
        return Decision(grouped, outcome="grouped")
    reason = escalation_trigger(len(in_window), contact, routing)
    if reason is None:
        return Decision(state, outcome="recorded")
    sequence = state.escalation_seq + 1
    opened = state.model_copy(
        update={
            "escalation_seq": sequence,
            "escalation_id": make_escalation_id(state.customer_id, state.issue_id, sequence),
            "status": "open",
            "level": 1,
            "escalation_contacts": [m.event_id for m in in_window][-CONTACTS_SHOWN:],
            "opened_at": now,
        }
    )
    cause = contact.event_id
    return Decision(
        opened,
        escalations=[
            _record("opened", opened, now, reason, cause),
            _record("paged", opened, now, reason, cause),
        ],
        pages=[_page(opened, "trigger", reason, now, contact.summary)],
        outcome="opened",
    )


def decide_command(state: IssueState | None, command: EscalationCommand, now: datetime) -> Decision:
    """Apply an ack or resolve to the escalation it names, once."""
    if state is None or state.escalation_id != command.escalation_id:
        return Decision(state, outcome="stale")
    token = seen_token(command.command_id)
    if token in state.seen:
        return Decision(state, outcome="duplicate")
    seen = remember(state.seen, token)
    if state.status == "resolved" or (command.action == "ack" and state.status == "acked"):
        return Decision(state.model_copy(update={"seen": seen}), outcome="ignored")
    status = "acked" if command.action == "ack" else "resolved"
    updated = state.model_copy(update={"status": status, "seen": seen, "updated_at": now})
    kind = "acked" if status == "acked" else "resolved"
    reason = f"{kind} by {command.by or 'unknown'}"
    action = "acknowledge" if status == "acked" else "resolve"
    return Decision(
        updated,
        escalations=[
            _record(
                kind, updated, now, reason, command.command_id, by=command.by, note=command.note
            )
        ],
        pages=[_page(updated, action, reason, now)],
        outcome=kind,
    )
