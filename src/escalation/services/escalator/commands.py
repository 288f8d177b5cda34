"""Operator commands on an escalation: ack (with a commitment), resolve (with a cause),
reopen and reassign. Pure, like every decision here: (state, command, now) -> Decision."""

from __future__ import annotations

from datetime import UTC, datetime

from escalation.schemas import EscalationCommand, parse_escalation_id
from escalation.schemas.base import copied
from escalation.schemas.identity import remember, seen_token
from escalation.schemas.state import ACTIVE, PAGING, IssueState

from .effects import Decision, page, record, settle
from .ladder import Roster
from .moves import paged, reopen, resolve_times


def decide_command(
    state: IssueState | None,
    command: EscalationCommand,
    now: datetime,
    roster: Roster | None = None,
) -> Decision:
    """Apply a command to the escalation it names, once.

    ``unknown``: no such escalation on this issue (the app counts and logs it);
    ``stale``: it names an earlier escalation of the issue, since superseded.
    """
    if state is None:
        return Decision(None, outcome="unknown", note="no escalation on this issue")
    if state.escalation_id != command.escalation_id:
        sequence = parse_escalation_id(command.escalation_id).sequence
        if sequence <= state.escalation_seq:
            note = f"escalation {sequence} was superseded; the issue is at {state.escalation_seq}"
            return Decision(state, outcome="stale", note=note)
        return Decision(state, outcome="unknown", note=f"escalation {sequence} never opened")
    token = seen_token(command.command_id)
    if token in state.seen:
        return Decision(state, outcome="duplicate")
    now = now.astimezone(UTC)
    seen = copied(state, {"seen": remember(state.seen, token)})
    handler = _HANDLERS[command.action]
    return settle(state, handler(seen, command, now, roster))


def _ignored(state: IssueState, why: str) -> Decision:
    return Decision(state, outcome="ignored", note=why)


def _ack(
    state: IssueState, command: EscalationCommand, now: datetime, roster: Roster | None
) -> Decision:
    eta = command.eta.astimezone(UTC) if command.eta is not None and command.eta > now else None
    by = command.by or "unknown"
    if state.status == "acked":
        if eta is None or eta == state.eta:
            return _ignored(state, "already acknowledged")
        moved = copied(state, {"eta": eta, "updated_at": now})
        reason = f"acked: {by} now commits to {eta.isoformat()}"
        event = record("acked", moved, now, reason, command.command_id, by=by, eta=eta)
        return Decision(moved, escalations=[event], outcome="acked")
    if state.status not in PAGING:
        return _ignored(state, f"escalation is {state.status}")
    acked = copied(state, {"status": "acked", "eta": eta, "deadline_due": None, "updated_at": now})
    reason = f"acked by {by}" + (f", committed to {eta.isoformat()}" if eta else "")
    extra = {"by": command.by, "note": command.note, "eta": eta}
    return Decision(
        acked,
        escalations=[record("acked", acked, now, reason, command.command_id, **extra)],
        pages=[_final_page(acked, "acknowledge", reason, now)],
        outcome="acked",
    )


def _resolve(
    state: IssueState, command: EscalationCommand, now: datetime, roster: Roster | None
) -> Decision:
    if state.status not in ACTIVE:
        return _ignored(state, f"escalation is {state.status}")
    resolved = copied(state, {**resolve_times(state, now), "updated_at": now})
    cause = command.cause or "other"
    reason = f"resolved by {command.by or 'unknown'} (cause: {cause})"
    extra = {"by": command.by, "note": command.note, "cause": cause}
    return Decision(
        resolved,
        escalations=[record("resolved", resolved, now, reason, command.command_id, **extra)],
        pages=[_final_page(resolved, "resolve", reason, now)],
        outcome="resolved",
    )


def _final_page(state: IssueState, action: str, reason: str, now: datetime):
    # Acknowledge and resolve pages close the cycle's trigger pages, not one repeat.
    return page(copied(state, {"loop": 0}), action, reason, now)


def _reopen(
    state: IssueState, command: EscalationCommand, now: datetime, roster: Roster | None
) -> Decision:
    if state.status != "resolved":
        return _ignored(state, f"escalation is {state.status}, not resolved")
    reason = f"reopened.command: by {command.by or 'unknown'}"
    return reopen(state, now, reason, command.command_id, roster)


def _reassign(
    state: IssueState, command: EscalationCommand, now: datetime, roster: Roster | None
) -> Decision:
    to = command.to
    refusal = _refusal(state, to, roster)
    if refusal is not None:
        return Decision(state, outcome="refused", note=refusal)
    assert to is not None and roster is not None
    teams = roster.teams(to)
    team = state.team if state.team in teams else teams[0]
    dropped = set(roster.owner_targets(state.owner))
    if team != state.team:
        dropped |= set(roster.team_targets(state.team))
    targets = [t for t in state.targets if t not in dropped]
    targets += [*roster.owner_targets(to), *roster.team_targets(team)]
    moved = copied(
        state,
        {
            "owner": to,
            "team": team,
            "targets": list(dict.fromkeys(targets)),
            # The new owner has acknowledged nothing: the ladder runs again from this level.
            "status": "open" if state.status == "acked" else state.status,
            "cycle": state.cycle + 1,
            "loop": 0,
            "level_at": now,
            "eta": None,
            "updated_at": now,
        },
    )
    reason = f"reassigned: from {state.owner} to {to} by {command.by or 'unknown'}"
    event = record("reassigned", moved, now, reason, command.command_id, by=command.by)
    pages = paged(moved, now, reason, command.command_id, roster, ("owner", None))
    return Decision(
        moved, escalations=[event, *pages.escalations], pages=pages.pages, outcome="reassigned"
    )


def _refusal(state: IssueState, to: str | None, roster: Roster | None) -> str | None:
    """Why ``to`` may not own this issue, or None: they must hold the route's authority."""
    if to is None:
        return "reassign names no owner (to)"
    if state.status not in ACTIVE:
        return f"escalation is {state.status}"
    if to == state.owner:
        return f"{to} already owns it"
    if roster is None:
        return "no policy to check the new owner's authority against"
    held = roster.authority(to)
    if held is None or not roster.teams(to):
        return f"{to} is not an owner in the policy"
    if held < state.authority:
        return f"{to} holds authority {held}; the issue needs {state.authority}"
    return None


_HANDLERS = {"ack": _ack, "resolve": _resolve, "reopen": _reopen, "reassign": _reassign}
