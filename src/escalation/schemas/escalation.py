"""Escalation lifecycle events (``escalations.v1``); their ids are made in ``identity``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Name, Timestamp, WireModel

EscalationType = Literal[
    "opened", "stepped", "paged", "acked", "resolved", "reopened", "reassigned", "followup_due"
]
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
