"""Webhook target: signed JSON per Standard Webhooks (CONTRACT section 6)."""

from __future__ import annotations

import httpx

from escalation.schemas import PageRequest, codec

from ..signing import sign
from .base import Links, Target

EVENT_TYPES = {
    "trigger": "escalation.paged",
    "acknowledge": "escalation.acked",
    "resolve": "escalation.resolved",
}


def payload(page: PageRequest, links: Links) -> dict[str, object]:
    return {
        "type": EVENT_TYPES[page.action],
        "page_id": page.page_id,
        "escalation_id": page.escalation_id,
        "dedup_key": page.dedup_key,
        "level": page.level,
        "reason": page.reason,
        "customer": {"id": page.customer_id, "tier": page.customer_tier},
        "issue_key": page.issue_key,
        "category": page.category,
        "product": page.product,
        "summary": page.summary,
        "owner": page.owner,
        "team": page.team,
        "contacts": page.contacts,
        "created_at": page.created_at.isoformat(),
        "ack_url": links.ack(page.escalation_id),
        "resolve_url": links.resolve(page.escalation_id),
    }


class WebhookTarget(Target):
    kind = "webhook"

    def __init__(self, target_id: str, url: str, secret: str) -> None:
        self.id = target_id
        self.url = url
        self.secret = secret

    def build(self, page: PageRequest, links: Links, now: int) -> httpx.Request:
        body = codec.dumps(payload(page, links))
        headers = {
            "content-type": "application/json",
            "webhook-id": page.page_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign(self.secret, page.page_id, now, body),
            "user-agent": "escalation-pager/1",
        }
        return httpx.Request("POST", self.url, content=body, headers=headers)
