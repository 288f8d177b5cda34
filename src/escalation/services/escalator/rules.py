"""Pure escalation decisions: (state, input, now) -> Decision (new state, effects).

No Kafka, HTTP or clock inside, so the live escalator and ``policy replay`` share them.
Every effect carries an id derived from the state and the input alone, so reprocessing
an input after a crash yields the same ids and downstream dedup drops the copies. This
module decides contacts; ``commands`` decides ack, resolve, reopen and reassign;
``timers`` decides what a tick fires. docs/escalation.md has the state machine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from escalation.schemas import ContactEvent, Routing
from escalation.schemas.base import built, copied, trusted
from escalation.schemas.identity import remember, seen_token
from escalation.schemas.state import (
    ACTIVE,
    CONTACTS_SHOWN,
    MARKS_LIMIT,
    PAGING,
    SUMMARY_LIMIT,
    ContactMark,
    IssueState,
    Notify,
)

from .commands import decide_command
from .effects import Decision, settle, spoken
from .ladder import EMPTY, Roster, snapshot_of
from .moves import deadline_reason, open_escalation, reopen, step_up

__all__ = ["Decision", "decide_command", "decide_contact", "densest_window", "escalation_trigger"]

_RESET = {
    "escalation_id": None,
    "status": None,
    "level": 0,
    "cycle": 0,
    "loop": 0,
    "escalation_contacts": [],
    "contacts": [],
    "level_at": None,
    "resolved_at": None,
    "followup_due": None,
    "snapshot": None,
    "eta": None,
    "deadline": None,
    "deadline_due": None,
    "surge": None,
}
"""A new episode after the reopen window: the old escalation's contacts no longer count."""


def _new_state(contact: ContactEvent, routing: Routing) -> IssueState:
    # Built, not validated: every value comes from the decoded contact and its routing.
    return built(
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
        authority=routing.authority_required,
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


Verdict = tuple[Notify, str] | Literal["keep", "new"]
"""What a contact does to a resolved escalation: reopen it (whom to page, why), stay on it
as a plain record ("keep"), or start the issue's next episode ("new")."""


def after_resolution(state: IssueState, contact: ContactEvent) -> Verdict:
    """The customer never reports twice: a contact soon after resolution reopens, and so
    does an unhappy survey answer or a strongly negative contact at any time."""
    snapshot = state.snapshot or EMPTY
    resolved_at = state.resolved_at or contact.occurred_at
    if contact.occurred_at < resolved_at:
        return "keep"  # it happened before the resolution it arrives after
    if contact.csat is not None and contact.csat <= snapshot.csat:
        return "team", f"reopened.csat: CSAT {contact.csat} after resolution"
    if contact.sentiment is not None and contact.sentiment <= snapshot.sentiment:
        return "team", f"reopened.sentiment: sentiment {contact.sentiment:g} after resolution"
    if contact.csat is not None or contact.channel == "survey":
        return "keep"  # a satisfied survey answer: the customer did not come back
    since = contact.occurred_at - resolved_at
    if snapshot.reopen_window is not None and since <= timedelta(seconds=snapshot.reopen_window):
        return "owner", (
            f"reopened.contact: {spoken(int(since.total_seconds()))} after resolution, "
            f"within the {spoken(snapshot.reopen_window)} reopen window"
        )
    return "new"


def _noted(
    state: IssueState,
    contact: ContactEvent,
    routing: Routing,
    now: datetime,
    token: str,
    arm: bool,
) -> tuple[IssueState, list[ContactMark]]:
    """The state with this contact counted, and the contacts in its densest window."""
    window = timedelta(seconds=routing.escalation.repeat_window_seconds)
    horizon = contact.occurred_at - window
    marks = [m for m in state.contacts if horizon <= m.at <= contact.occurred_at + window]
    marks = sorted(
        [*marks, trusted(ContactMark, event_id=contact.event_id, at=contact.occurred_at)],
        key=lambda m: m.at,
    )[-MARKS_LIMIT:]
    # An escalated issue keeps its owner, resolved or not: the customer never starts
    # over with someone new, and a reopen goes back to whoever resolved it.
    kept = state.status is not None
    update: dict[str, object] = {
        "contacts": marks,
        "seen": remember(state.seen, token),
        "customer_tier": contact.customer.tier,
        "summary": _short(contact.summary) or state.summary,
        "owner": state.owner if kept else routing.owner,
        "team": state.team if kept else routing.team,
        "targets": state.targets if kept else routing.targets,
        "authority": routing.authority_required,
        "updated_at": now,
        # Kept only where the follow-up waits for the customer's hours: the state's size.
        "customer_zone": contact.customer.timezone
        if routing.escalation.followup_in_customer_hours
        else None,
    }
    if contact.deadline is not None:
        # Armed only while nobody has acknowledged: an ack answers the deadline.
        lead = timedelta(seconds=routing.escalation.deadline_lead_seconds)
        deadline = contact.deadline.astimezone(UTC)
        update |= {"deadline": deadline, "deadline_due": deadline - lead if arm else None}
        if state.status is None:
            # Should the deadline open the escalation later, this route's settings hold.
            update["snapshot"] = snapshot_of(routing.escalation)
    noted = copied(state, update)
    return noted, densest_window(marks, contact.occurred_at, window)


def decide_contact(
    state: IssueState | None,
    contact: ContactEvent,
    routing: Routing,
    now: datetime,
    roster: Roster | None = None,
) -> Decision:
    """Record a routed contact on its issue; open, group into or reopen its escalation."""
    token = seen_token(contact.event_id)
    if state is not None and token in state.seen:
        return Decision(state, outcome="duplicate")
    before, now = state, now.astimezone(UTC)
    state = state or _new_state(contact, routing)
    verdict: Verdict = after_resolution(state, contact) if state.status == "resolved" else "keep"
    if verdict == "new":
        state = copied(state, _RESET)
    reopening = isinstance(verdict, tuple)
    arm = reopening or state.status not in ("acked", "resolved")
    state, in_window = _noted(state, contact, routing, now, token, arm)
    return settle(before, _decide(state, contact, routing, now, roster, verdict, in_window))


def _decide(
    state: IssueState,
    contact: ContactEvent,
    routing: Routing,
    now: datetime,
    roster: Roster | None,
    verdict: Verdict,
    in_window: list[ContactMark],
) -> Decision:
    cause = contact.event_id
    if state.status in ACTIVE or isinstance(verdict, tuple):
        joined = [*state.escalation_contacts, cause][-CONTACTS_SHOWN:]
        state = copied(state, {"escalation_contacts": joined})
    if isinstance(verdict, tuple):
        notify, reason = verdict
        return reopen(state, now, reason, cause, roster, notify, contact.summary)
    due = state.deadline_due is not None and state.deadline_due <= now
    if state.status in ACTIVE:
        if due and state.status in PAGING:
            return step_up(state, now, now, deadline_reason(state), cause, roster)
        return Decision(state, outcome="grouped")
    if state.status == "resolved":
        return Decision(state, outcome="recorded")
    reason = escalation_trigger(len(in_window), contact, routing)
    if reason is None and due:
        reason = deadline_reason(state)
    if reason is None:
        return Decision(state, outcome="recorded")
    if due:
        state = copied(state, {"deadline_due": None})
    snapshot = snapshot_of(routing.escalation)
    contacts = [m.event_id for m in in_window] or [cause]
    return open_escalation(state, now, reason, cause, snapshot, contacts, contact.summary)
