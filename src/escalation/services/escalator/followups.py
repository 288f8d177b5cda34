"""Follow-up reminders in the customer's hours: a customer-facing call waits for them.

A resolved escalation reminds its owner to check back with the customer
``followup_after`` later (``moves.resolve_times``). On a route whose escalation sets
``followup_in_customer_hours``, that moment is moved to the start of the customer's next
hours (``quiet_hours.customer``) in the customer's own time zone, kept in the issue's
state for this (``customer_zone``; the policy's zone when the contact gave none).

Applied after every decision, with the holds (``holds.apply_holds``), as a pure function
of the state and the quiet-hours rules: the moment is found once, when the follow-up is
set, and a moment already in the customer's hours is left as it is, so applying it
again changes nothing. The snapshot taken when the escalation opened says whether the
route asks for it, so a policy edit leaves an escalation in flight alone.
"""

from __future__ import annotations

from escalation.policy.quiet import QuietRules
from escalation.schemas.base import copied
from escalation.schemas.state import IssueState


def in_customer_hours(state: IssueState, quiet: QuietRules | None) -> IssueState:
    """The state with its follow-up moved into the customer's hours, if it must wait."""
    due = state.followup_due
    snapshot = state.snapshot
    if due is None or quiet is None or snapshot is None:
        return state
    if not snapshot.followup_in_customer_hours or state.status != "resolved":
        return state
    later = quiet.customer_release_at(state.customer_zone, due)
    if later is None or later <= due:
        return state
    return copied(state, {"followup_due": later})


def waited(state: IssueState, due_seconds: int) -> str:
    """What a follow-up's reason adds when it waited for the customer's hours."""
    after = state.snapshot.followup_after if state.snapshot is not None else None
    if after is None or due_seconds <= after:
        return ""
    return f" (moved into the customer's hours, {state.customer_zone or 'policy time zone'})"
