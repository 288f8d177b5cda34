"""Webhook target: a ``WebhookPage`` as JSON, signed per Standard Webhooks.

The body's fields are the public contract (docs/contract.md, "Pages"); the model in
``schemas/page.py`` is their one definition, with a generated JSON Schema.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from escalation.schemas import PageRequest, codec
from escalation.schemas.page import WEBHOOK_EVENT_TYPES, PageCustomer, WebhookPage

from ..signing import Signer
from ..transport import Post
from .base import HttpTarget, Links


def payload(page: PageRequest, links: Links, target_id: str) -> WebhookPage:
    """The body target ``target_id`` gets for ``page``, validated: a page it refuses is
    dead-lettered. Its links are signed for that target."""
    return WebhookPage(
        type=WEBHOOK_EVENT_TYPES[page.action],
        page_id=page.page_id,
        escalation_id=page.escalation_id,
        dedup_key=page.dedup_key,
        level=page.level,
        reason=page.reason,
        customer=PageCustomer(id=page.customer_id, tier=page.customer_tier),
        issue_key=page.issue_key,
        category=page.category,
        product=page.product,
        summary=page.summary,
        owner=page.owner,
        team=page.team,
        contacts=page.contacts,
        created_at=page.created_at,
        ack_url=links.ack(page, target_id),
        resolve_url=links.resolve(page, target_id),
        affected=page.affected,
    )


class WebhookTarget(HttpTarget):
    kind = "webhook"

    def __init__(self, target_id: str, url: str, secret: str, spec: Any = None) -> None:
        self.id = target_id
        self.url = url
        self.secret = secret
        self.configure(spec)

    @cached_property
    def signer(self) -> Signer:
        return Signer(self.secret)

    def build(self, page: PageRequest, links: Links, now: int) -> Post:
        body = codec.encode_http_body(payload(page, links, self.id))
        headers = {
            "content-type": "application/json",
            "webhook-id": page.page_id,
            "webhook-timestamp": str(now),
            "webhook-signature": self.signer.sign(page.page_id, now, body),
            "user-agent": "escalation-pager/1",
        }
        return Post(self.endpoint, body, headers)
