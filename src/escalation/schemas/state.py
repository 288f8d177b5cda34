"""Per-issue escalation state kept in the escalator's table (changelog-backed)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Timestamp, WireModel

EscalationStatus = Literal["open", "acked", "resolved"]


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
    seen: list[str] = Field(default_factory=list, description="recent event and command ids")
    escalation_id: str | None = None
    escalation_seq: int = 0
    status: EscalationStatus | None = None
    level: int = 0
    escalation_contacts: list[str] = Field(default_factory=list)
    opened_at: Timestamp | None = None
    updated_at: Timestamp | None = None


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
    seen: list[str] = Field(default_factory=list, description="recent event ids")
