"""PagerDuty target: the Events API v2 (trigger, acknowledge, resolve), one alert per escalation.

``dedup_key`` is the escalation id, so every page of one escalation (its levels, its
repeats, a re-sent page after a crash) lands on one PagerDuty alert, and acknowledge
and resolve close the same alert. The page's action names the ``event_action``
directly. The summary is the target's ``summary`` template (1,024 characters at most,
PagerDuty's limit); the rest of the page rides in ``custom_details``, and the ack and
resolve links in ``links``. PagerDuty answers 202; 400 is a rejection, 429 and 5xx are
retried (``delivery.classify``).
"""

from __future__ import annotations

from typing import Any

from escalation.schemas import PageRequest, codec

from ..transport import JSON_HEADERS, Post
from .base import HttpTarget, Links

SUMMARY_LIMIT = 1024


class PagerDutyTarget(HttpTarget):
    kind = "pagerduty"

    def __init__(
        self,
        target_id: str,
        url: str,
        routing_key: str,
        severity: str = "critical",
        spec: Any = None,
    ) -> None:
        self.id = target_id
        self.url = url
        self.routing_key = routing_key
        self.severity = severity
        self.configure(spec)

    def event(self, page: PageRequest, links: Links) -> dict[str, Any]:
        """The Events API v2 body for ``page``."""
        body: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": page.action,
            "dedup_key": page.escalation_id,
        }
        if page.action != "trigger":
            return body
        summary = " ".join(self.render("summary", page, links).split()) or page.reason
        body["payload"] = {
            "summary": summary[:SUMMARY_LIMIT],
            "source": f"escalation/{page.team}",
            "severity": self.severity,
            "timestamp": page.created_at.isoformat(),
            "component": page.product or page.category,
            "group": page.team,
            "class": page.category,
            "custom_details": {
                "escalation_id": page.escalation_id,
                "page_id": page.page_id,
                "level": page.level,
                "reason": page.reason,
                "customer": page.customer_id,
                "tier": page.customer_tier,
                "issue_key": page.issue_key,
                "summary": page.summary,
                "owner": page.owner,
                "team": page.team,
                "notified": page.notified or [],
                "route": page.route,
                "routing_reasons": page.routing_reasons or [],
                "contacts": list(page.contacts),
            },
        }
        body["links"] = [
            {"href": links.ack(page, self.id), "text": "Acknowledge"},
            {"href": links.resolve(page, self.id), "text": "Resolve"},
        ]
        body["client"] = "escalation"
        return body

    def build(self, page: PageRequest, links: Links, now: int) -> Post:
        content = codec.dumps(self.event(page, links))
        return Post(self.endpoint, content, JSON_HEADERS)
