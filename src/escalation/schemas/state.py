"""Per-issue state: the escalator's issue table and the router's assignments (changelogs).

Both are written to a changelog with every change and read back on recovery, so their
size is the cost of every contact: each list here is bounded, and ids are kept as short
digests where only equality matters. With ids of about 20 characters an open issue takes
under 1 KiB encoded, and about 6 KiB at most with every kept id 128 characters long
(``python -m bench.state_size`` measures it; docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import ConfigDict, Field, PlainSerializer

from .affected import Affected, SurgeLink
from .base import Timestamp, WireModel
from .contact import Urgency
from .page import PageRequest

EscalationStatus = Literal["open", "acked", "resolved", "reopened"]
"""docs/escalation.md has the state machine: open and reopened page up the ladder until
acknowledged; acked waits for resolution (and its commitment); resolved may reopen."""
PAGING = frozenset({"open", "reopened"})
"""Statuses in which the ladder runs."""
ACTIVE = frozenset({"open", "acked", "reopened"})
"""Statuses in which further contacts join the escalation and keep its owner."""

Notify = Literal["owner", "team", "schedule", "fallback_owner", "fallback_team"]
"""Whom a ladder step pages: the issue's owner, a team (the issue's unless named), whoever
is on call for a schedule when the step fires, or the route's fallback owner or team."""

MARKS_LIMIT = 20
"""Recent contacts (time, id) an issue keeps to count repeats in a window; the policy's
``repeat_threshold`` is at most this."""
CONTACTS_SHOWN = 10
"""Event ids of an escalation's contacts carried on its records and pages (the latest)."""
SUMMARY_LIMIT = 280
"""Characters of the latest summary kept for later pages; the page that opens an
escalation carries the triggering contact's whole summary."""


LADDER_LIMIT = 10
"""Most steps a ladder may have: each is kept in every open issue's state."""


class Rung(NamedTuple):
    """One ladder step in an escalation's snapshot; encoded as a short JSON array."""

    after: int
    notify: Notify
    to: str | None = None
    repeat: int = 0
    every: int | None = None


_RUNG_DEFAULTS = Rung(0, "owner")


def _short_rung(rung: Rung) -> list[object]:
    # Trailing defaults are left out: [900, "team"] rather than [900, "team", null, 0, null].
    values = list(rung)
    while len(values) > 2 and values[-1] == _RUNG_DEFAULTS[len(values) - 1]:
        values.pop()
    return values


class Snapshot(WireModel):
    """The route's escalation settings frozen when the escalation opened (seconds).

    A policy edit never changes an escalation in flight: the ladder's shape, the ack
    timeout and what happens after resolution come from here, not from the policy. Who
    is on call for a schedule step is still resolved when the step fires. Every open
    issue carries one, so its keys are one letter in the changelog.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True
    )

    ladder: tuple[Annotated[Rung, PlainSerializer(_short_rung)], ...] = Field(default=(), alias="l")
    ack_timeout: int | None = Field(default=None, alias="a")
    reopen_window: int | None = Field(default=None, alias="r")
    followup_after: int | None = Field(default=None, alias="f")
    followup_in_customer_hours: Literal[True] | None = Field(
        default=None, alias="h", description="true, or left out: only routes that ask pay"
    )
    csat: int = Field(default=2, alias="c")
    sentiment: float = Field(default=-0.6, alias="s")


class Hold(WireModel):
    """A page held back by a silence or quiet hours, to be sent (once) when they end."""

    page: PageRequest = Field(description="the page, sent as it is (same page id) on release")
    reason: str
    silence_id: str | None = Field(default=None, description="none: quiet hours hold it")
    until: Timestamp | None = Field(
        default=None, description="when to check again; none: due now (a tick found it due)"
    )
    since: Timestamp


class ContactMark(WireModel):
    event_id: str
    at: Timestamp


class IssueState(WireModel):
    """One customer issue: its recent contacts, its owner, and its current escalation."""

    customer_id: str
    customer_tier: str = "standard"
    issue_id: str
    issue_key: str | None = None
    category: str
    product: str | None = None
    summary: str | None = None
    owner: str
    team: str
    targets: list[str] = Field(default_factory=list)
    contacts: list[ContactMark] = Field(default_factory=list)
    seen: list[str] = Field(
        default_factory=list, description="digests of recent event and command ids"
    )
    escalation_id: str | None = None
    escalation_seq: int = 0
    status: EscalationStatus | None = None
    level: int = 0
    escalation_contacts: list[str] = Field(default_factory=list)
    opened_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    authority: int = Field(default=0, description="what the issue's route requires of an owner")
    cycle: int = Field(default=0, description="+1 at each reopen and reassignment: in page ids")
    loop: int = Field(default=0, description="repeats of the current level already paged")
    level_at: Timestamp | None = Field(default=None, description="when the level first paged")
    eta: Timestamp | None = Field(default=None, description="the owner's commitment at ack")
    followup_due: Timestamp | None = None
    customer_zone: str | None = Field(
        default=None,
        description="the customer's time zone, kept only when the route's follow-ups wait "
        "for the customer's hours",
    )
    deadline: Timestamp | None = Field(default=None, description="the customer's deadline")
    deadline_due: Timestamp | None = Field(default=None, description="deadline less the lead")
    resolved_at: Timestamp | None = None
    version: int = Field(default=0, description="+1 whenever a timer changes: ticks carry it")
    snapshot: Snapshot | None = None
    urgency: Urgency | None = Field(
        default=None, description="the highest urgency of the escalation's contacts"
    )
    hold: Hold | None = Field(default=None, description="the page held back, if any")
    surge: SurgeLink | None = Field(
        default=None, description="the surge covering the issue, and whether it holds its pages"
    )
    affected: Affected | None = Field(
        default=None, description="a surge's own escalation: whom it covers"
    )


class Assignment(WireModel):
    """The router's record of who owns one customer issue (sticky ownership)."""

    customer_id: str
    issue_id: str
    owner: str
    team: str
    route: str
    assigned_at: Timestamp
    last_contact_at: Timestamp
    open: bool = True
    seen: list[str] = Field(default_factory=list, description="digests of recent event ids")
