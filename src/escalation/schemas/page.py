"""Page requests (``pages.v1``): what the pager delivers to targets."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field

from .base import Name, Timestamp, WireModel

PageAction = Literal["trigger", "acknowledge", "resolve"]


class PageRequest(WireModel):
    page_id: str = Field(description="stable per escalation, level and action: the webhook-id")
    action: PageAction = "trigger"
    escalation_id: str
    dedup_key: str
    level: int = Field(ge=0)
    reason: str
    customer_id: Name
    customer_tier: str
    issue_key: str | None = None
    category: str
    product: str | None = None
    owner: str
    team: str
    summary: str | None = None
    contacts: list[str] = Field(default_factory=list)
    targets: list[Name] = Field(default_factory=list)
    created_at: Timestamp


def page_id_for(escalation_id: str, level: int, action: str) -> str:
    """The same escalation, level and action always yield the same page id."""
    digest = hashlib.sha256(f"{escalation_id}|{level}|{action}".encode()).hexdigest()[:24]
    return f"msg_{digest}"
