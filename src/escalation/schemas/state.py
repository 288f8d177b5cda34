"""Per-issue state: the escalator's issue table and the router's assignments (changelogs).

Both are written to a changelog with every change and read back on recovery, so their
size is the cost of every contact: each list here is bounded, and ids are kept as short
digests where only equality matters. With ids of about 20 characters an open issue takes
under 1 KiB encoded, and about 6 KiB at most with every kept id 128 characters long
(``python -m bench.state_size`` measures it; docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Timestamp, WireModel

EscalationStatus = Literal["open", "acked", "resolved"]

MARKS_LIMIT = 20
"""Recent contacts (time, id) an issue keeps to count repeats in a window; the policy's
``repeat_threshold`` is at most this."""
CONTACTS_SHOWN = 10
"""Event ids of an escalation's contacts carried on its records and pages (the latest)."""
SUMMARY_LIMIT = 280
"""Characters of the latest summary kept for later pages; the page that opens an
escalation carries the triggering contact's whole summary."""


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
