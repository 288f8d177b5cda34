"""Escalation lifecycle events (``escalations.v1``); their ids are made in ``identity``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Name, Timestamp, WireModel

EscalationType = Literal[
    "opened",
    "stepped",
    "paged",
    "acked",
    "resolved",
    "reopened",
    "reassigned",
    "followup_due",
    "page.delivered",
    "page.failed",
    "page.held",
    "page.released",
    "page.dropped",
    "held",
    "released",
    "updated",
]
"""The escalator writes the lifecycle (opened ... followup_due); the pager writes what
became of each page: ``page.delivered`` per target that took it, ``page.failed`` per
target that could not, and ``paged`` once a trigger page reached its first target, so
``paged`` means someone got it (docs/contract.md#escalation-event). A surge adds
``held`` (a page of a covered issue held back while the surge is open), ``released``
(the surge closed: the issue pages again) and ``updated`` (the surge's own escalation:
more customers). A silence or quiet hours add ``page.held`` (a page held back, with the
silence id), ``page.released`` (it goes out after all) and ``page.dropped`` (it never
will)."""
PAGER_TYPES = frozenset({"paged", "page.delivered", "page.failed"})
ResolveCause = Literal["defect", "usage", "expectation", "other"]
"""Why the issue happened, as the owner judged at resolution: the product failed (defect),
it was used wrongly or the directions were unclear (usage), or it did what it should but
not what the customer was led to expect (expectation)."""


class EscalationEvent(WireModel):
    escalation_id: str
    type: EscalationType
    at: Timestamp
    customer_id: Name
    issue_id: str
    issue_key: str | None = None
    category: str
    product: str | None = None
    owner: str
    team: str
    level: int = Field(default=1, ge=0)
    reason: str
    contacts: list[str] = Field(default_factory=list)
    by: str | None = None
    note: str | None = None
    cause_id: str = Field(description="event or command id that caused this record")
    eta: Timestamp | None = Field(default=None, description="acked: the owner's commitment")
    cause: ResolveCause | None = Field(default=None, description="resolved: why it happened")
    notified: list[str] | None = Field(
        default=None, description="paged: the people reached, when the policy names them"
    )
    page_id: str | None = Field(default=None, description="paged, page.*: the page")
    target: Name | None = Field(
        default=None, description="page.*: the target (paged: the first to take the page)"
    )
    target_type: str | None = Field(default=None, description="page.*: webhook, pagerduty...")
    attempts: int | None = Field(default=None, ge=0, description="page.*: delivery attempts")
    error: Annotated[str, Field(max_length=4000)] | None = Field(
        default=None, description="page.failed: the last error"
    )
    fallback: Name | None = Field(
        default=None, description="page.failed: the target the page went to instead"
    )
    fallback_for: Name | None = Field(
        default=None, description="page.*: the target this one stood in for"
    )
    silence_id: str | None = Field(
        default=None, description="page.held, page.dropped: the silence (none: quiet hours)"
    )
    held_until: Timestamp | None = Field(
        default=None, description="page.held: when it is checked again"
    )
