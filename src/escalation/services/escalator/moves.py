"""The moves an escalation makes, shared by contacts, commands and ticks.

Each takes the state and returns a Decision with the records and pages of the move. The
``cause`` of a move becomes each record's ``cause_id`` (with its type, the record's id
downstream); moves made by a tick derive it from the state, e.g. ``step:0.2.1`` for
cycle 0, level 2, repeat 1, so a reprocessed tick yields the same ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from escalation.schemas import make_escalation_id
from escalation.schemas.base import copied
from escalation.schemas.state import CONTACTS_SHOWN, IssueState, Notify, Snapshot

from .effects import Decision, page, record, spoken
from .ladder import EMPTY, Roster, level_notify, reach


def paged(
    state: IssueState,
    now: datetime,
    reason: str,
    cause: str,
    roster: Roster | None,
    notify: tuple[Notify, str | None] | None = None,
    summary: str | None = None,
) -> Decision:
    """Page the state's current level: whom its notify names, resolved at ``now``."""
    kind, to = notify or level_notify(state, state.level)
    reached = reach(kind, to, state, now, roster)
    said = f"{reason}; paging {reached.label}"
    return Decision(
        state,
        escalations=[
            record("paged", state, now, said, cause, notified=list(reached.people) or None)
        ],
        pages=[page(state, "trigger", said, now, summary, reached.targets, list(reached.people))],
    )


def open_escalation(
    state: IssueState,
    now: datetime,
    reason: str,
    cause: str,
    snapshot: Snapshot,
    contacts: list[str],
    summary: str | None = None,
) -> Decision:
    """Open the issue's next escalation at level 1 and page its owner."""
    sequence = state.escalation_seq + 1
    opened = copied(
        state,
        {
            "escalation_seq": sequence,
            "escalation_id": make_escalation_id(state.customer_id, state.issue_id, sequence),
            "status": "open",
            "level": 1,
            "cycle": 0,
            "loop": 0,
            "level_at": now,
            "escalation_contacts": contacts[-CONTACTS_SHOWN:],
            "opened_at": now,
            "snapshot": snapshot,
        },
    )
    # The opening page's reason stays the trigger alone ("urgency.critical"): receivers
    # and the demo read it; later pages say whom they reach.
    return Decision(
        opened,
        escalations=[
            record("opened", opened, now, reason, cause),
            record("paged", opened, now, reason, cause, notified=[opened.owner]),
        ],
        pages=[page(opened, "trigger", reason, now, summary, notified=[opened.owner])],
        outcome="opened",
    )


def reopen(
    state: IssueState,
    now: datetime,
    reason: str,
    cause: str,
    roster: Roster | None,
    notify: Notify = "owner",
    summary: str | None = None,
) -> Decision:
    """Reopen a resolved escalation, same id and owner, back at level 1 in a new cycle."""
    reopened = copied(
        state,
        {
            "status": "reopened",
            "level": 1,
            "cycle": state.cycle + 1,
            "loop": 0,
            "level_at": now,
            "resolved_at": None,
            "followup_due": None,
            "eta": None,
        },
    )
    pages = paged(reopened, now, reason, cause, roster, (notify, None), summary)
    return Decision(
        reopened,
        escalations=[record("reopened", reopened, now, reason, cause), *pages.escalations],
        pages=pages.pages,
        outcome="reopened",
    )


def step_up(
    state: IssueState, at: datetime, now: datetime, reason: str, cause: str, roster: Roster | None
) -> Decision:
    """Move one level up at once (a missed commitment, a customer's deadline)."""
    status = "open" if state.status == "acked" else state.status
    stepped = copied(
        state,
        {
            "status": status,
            "level": state.level + 1,
            "loop": 0,
            "level_at": at,
            "eta": None,
            "deadline_due": None,
        },
    )
    pages = paged(stepped, now, reason, cause, roster)
    return Decision(
        stepped,
        escalations=[record("stepped", stepped, now, reason, cause), *pages.escalations],
        pages=pages.pages,
        outcome="stepped",
    )


def deadline_reason(state: IssueState) -> str:
    """Why a customer's deadline escalates: when they need it, and the lead that passed."""
    assert state.deadline is not None and state.deadline_due is not None
    lead = spoken(int((state.deadline - state.deadline_due).total_seconds()))
    return (
        f"deadline.near: the customer needs it by {state.deadline.isoformat()} "
        f"and nobody has acknowledged it {lead} before"
    )


def resolve_times(state: IssueState, now: datetime) -> dict[str, object]:
    """The fields a resolution sets: the follow-up's due time, every other timer cleared."""
    after = (state.snapshot or EMPTY).followup_after
    return {
        "status": "resolved",
        "resolved_at": now,
        "followup_due": now + timedelta(seconds=after) if after else None,
        "eta": None,
        "deadline_due": None,
        "loop": 0,
    }
