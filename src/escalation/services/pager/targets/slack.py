"""Slack target: an incoming webhook with Block Kit blocks: who, what, why, and links.

Who (the owner, the team, the people this level pages), what (the customer, the issue,
the summary), why (the escalation's reason and the router's reasons for the owner), the
contact ids, and Acknowledge and Resolve buttons that open the page's links. Every text
from a page is escaped for Slack (``&``, ``<``, ``>``), so a customer's summary cannot
mention ``<!channel>``; the templates' output is escaped the same way. Lengths are cut
to Block Kit's limits. Slack answers 200 ``ok``; 400, 403, 404 and 410 are rejections.
"""

from __future__ import annotations

from typing import Any

from escalation.policy.templates import slack_escape as escape
from escalation.schemas import PageRequest, codec

from ..transport import JSON_HEADERS, Post
from .base import HttpTarget, Links


def _mrkdwn(text: str, limit: int = 2000) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text[:limit]}


def _button(text: str, url: str, action_id: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "url": url,
        "action_id": action_id,
        "style": style,
    }


class SlackTarget(HttpTarget):
    kind = "slack"

    def __init__(self, target_id: str, url: str, spec: Any = None) -> None:
        self.id = target_id
        self.url = url
        self.configure(spec)

    def message(self, page: PageRequest, links: Links) -> dict[str, Any]:
        """The incoming-webhook body for ``page``: ``text`` for notifications, then blocks."""
        who = f"*Who*\n{escape(page.owner)} (team {escape(page.team)})"
        if page.notified:
            who += f"\npaging {escape(', '.join(page.notified))}"
        issue = page.issue_key or page.category
        what = f"*What*\n{escape(page.customer_id)} ({escape(page.customer_tier)}), {escape(issue)}"
        if page.product:
            what += f" {escape(page.product)}"
        why = [f"*Why*: {escape(page.reason)}"]
        why += [escape(reason) for reason in (page.routing_reasons or [])[:9]]
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": self.render("title", page, links)[:150]},
            },
            {"type": "section", "text": _mrkdwn(self.render("body", page, links), 3000)},
            {"type": "section", "fields": [_mrkdwn(who), _mrkdwn(what)]},
            {"type": "context", "elements": [_mrkdwn(text) for text in why]},
            {
                "type": "context",
                "elements": [_mrkdwn(f"Contacts: {escape(', '.join(page.contacts)) or '-'}")],
            },
        ]
        if page.action != "resolve":
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        _button("Acknowledge", links.ack(page, self.id), "ack", "primary"),
                        _button("Resolve", links.resolve(page, self.id), "resolve", "danger"),
                    ],
                }
            )
        return {"text": self.render("text", page, links)[:3000], "blocks": blocks}

    def build(self, page: PageRequest, links: Links, now: int) -> Post:
        content = codec.dumps(self.message(page, links))
        return Post(self.endpoint, content, JSON_HEADERS)
