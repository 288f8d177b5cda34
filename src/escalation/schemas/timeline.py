"""What the query API shows of an escalation: its state, deadlines and timeline.

The timeline is kept apart from the issue state (its own table, one record per issue),
so the state every contact rewrites stays small; it holds the escalator's own records,
each at most once, the latest :data:`TIMELINE_LIMIT` of them.
"""

from __future__ import annotations

from pydantic import Field

from .affected import Affected, SurgeLink
from .base import Timestamp, WireModel
from .escalation import EscalationType, ResolveCause
from .state import EscalationStatus

TIMELINE_LIMIT = 50
"""Entries kept per escalation; older ones are counted in ``dropped``."""
NOTE_SHOWN = 280
"""Characters of an operator's note kept in the timeline."""


class TimelineEntry(WireModel):
    id: str = Field(description="<type>:<cause id>, the record's id without the escalation")
    type: EscalationType
    at: Timestamp
    level: int = Field(ge=0)
    reason: str
    by: str | None = None
    note: str | None = None
    eta: Timestamp | None = None
    cause: ResolveCause | None = None
    notified: list[str] | None = Field(default=None, description="paged: the people the page names")
    page_id: str | None = Field(default=None, description="paged, page.*: the page")
    silence_id: str | None = Field(default=None, description="page.held, page.dropped")
    held_until: Timestamp | None = Field(default=None, description="page.held")


class Timeline(WireModel):
    escalation_id: str
    entries: list[TimelineEntry] = Field(default_factory=list)
    dropped: int = Field(default=0, ge=0, description="older entries no longer kept")


class Deadlines(WireModel):
    """The deadlines live in the escalation's status (none: nothing is pending)."""

    next_step: Timestamp | None = Field(
        default=None, description="the ladder's next level or repeat (open, reopened)"
    )
    eta: Timestamp | None = Field(default=None, description="the owner's commitment (acked)")
    customer_deadline: Timestamp | None = Field(
        default=None, description="the customer's deadline, as the contact gave it"
    )
    escalates_at: Timestamp | None = Field(
        default=None, description="the customer's deadline less the route's lead"
    )
    followup: Timestamp | None = Field(default=None, description="follow-up due (resolved)")


class EscalationView(WireModel):
    escalation_id: str
    customer_id: str
    issue_id: str
    issue_key: str | None = None
    category: str
    product: str | None = None
    status: EscalationStatus
    level: int
    owner: str
    team: str
    opened_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    resolved_at: Timestamp | None = None
    contacts: list[str] = Field(description="the escalation's latest contact event ids")
    deadlines: Deadlines
    timeline: list[TimelineEntry] | None = Field(
        default=None, description="every record, oldest first (the single-escalation view)"
    )
    timeline_dropped: int | None = None
    surge: SurgeLink | None = Field(
        default=None, description="the surge covering the issue; held: its pages wait"
    )
    affected: Affected | None = Field(default=None, description="a surge: whom it covers")


class EscalationList(WireModel):
    customer_id: str
    escalations: list[EscalationView]
