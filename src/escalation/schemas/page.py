"""Pages: the request on ``pages.v1`` and the body a webhook target receives.

``PageRequest`` is what the escalator asks the pager to deliver; ``WebhookPage`` is the
JSON a receiver gets for it (docs/contract.md, "Pages"). Both are part of the public
contract, so both are models with a generated JSON Schema.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field

from .affected import Affected
from .base import Name, Timestamp, WireModel
from .contact import Tier

PageAction = Literal["trigger", "acknowledge", "resolve"]
WebhookEventType = Literal["escalation.paged", "escalation.acked", "escalation.resolved"]

WEBHOOK_EVENT_TYPES: dict[str, WebhookEventType] = {
    "trigger": "escalation.paged",
    "acknowledge": "escalation.acked",
    "resolve": "escalation.resolved",
}
"""The webhook ``type`` for each page action."""
ROUTING_REASONS_SHOWN = 30
"""Routing reasons a page carries: one per route tried, then the owner's choice."""


class PageRequest(WireModel):
    page_id: str = Field(
        description="stable per escalation, level, action, cycle and repeat: the webhook-id"
    )
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
    route: Name | None = Field(
        default=None, description="the route that chose the owner, on pages made by a contact"
    )
    routing_reasons: list[Annotated[str, Field(max_length=1024)]] | None = Field(
        default=None,
        max_length=ROUTING_REASONS_SHOWN,
        description="why the router chose the owner (the contact's routing reasons)",
    )
    notified: list[Name] | None = Field(
        default=None, description="trigger: the people this level pages, when the policy names them"
    )
    affected: Affected | None = Field(
        default=None, description="a surge's page: the customers and issues it covers"
    )


class PageCustomer(WireModel):
    id: Name
    tier: Tier


class WebhookPage(WireModel):
    """The JSON body a webhook target POSTs for one page, signed per Standard Webhooks.

    Every field is always present; the optional ones are null when unknown, so a
    receiver can read them without checking for the key.
    """

    type: WebhookEventType
    page_id: str = Field(description="the same as the webhook-id header; stable per page")
    escalation_id: str
    dedup_key: str = Field(description="the escalation id: groups every page of one escalation")
    level: int = Field(ge=0)
    reason: str
    customer: PageCustomer
    issue_key: str | None = Field(description="the upstream case id, when the contact had one")
    category: str
    product: str | None
    summary: str | None
    owner: str
    team: str
    contacts: list[str] = Field(description="event ids of the contacts in the escalation")
    created_at: Timestamp
    ack_url: str = Field(description="POST here to acknowledge the escalation")
    resolve_url: str = Field(description="POST here to resolve the escalation")
    affected: Affected | None = Field(
        default=None, description="a surge's page: the customers and issues it covers"
    )


def page_id_for(escalation_id: str, level: int, action: str, cycle: int = 0, loop: int = 0) -> str:
    """The same escalation, level, action, cycle and loop always yield the same page id.

    ``cycle`` counts reopens and reassignments, ``loop`` a level's repeats; both 0 give
    the ids pages had before ladders existed, so a receiver's dedup still holds.
    """
    key = f"{escalation_id}|{level}|{action}"
    if cycle or loop:
        key += f"|{cycle}|{loop}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"msg_{digest}"
