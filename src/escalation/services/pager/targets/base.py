"""What a page target is: something that turns a page into one HTTP request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx

from escalation.schemas import PageRequest
from escalation.services.common.links import LinkClaim, sign


@dataclass(frozen=True)
class Links:
    """Where the people a page reaches can act on its escalation: the one place every
    target gets its ack and resolve URLs from, whatever it renders them into.

    With a key, each URL opens intake's confirm page and carries a token signed for this
    escalation, action, level and target, valid for ``ttl`` from when the page was made
    (not from each attempt, so a retried or replayed page has the same body). Without a
    key (an embedded service run alone) the URL is the bare API endpoint, which needs a
    bearer token.
    """

    base_url: str
    key: str | None = None
    ttl: timedelta = timedelta(days=7)

    def ack(self, page: PageRequest, target_id: str) -> str:
        return self._link(page, "ack", target_id)

    def resolve(self, page: PageRequest, target_id: str) -> str:
        return self._link(page, "resolve", target_id)

    def _link(self, page: PageRequest, action: str, target_id: str) -> str:
        url = f"{self.base_url}/v1/escalations/{page.escalation_id}/{action}"
        if self.key is None:
            return url
        expires = int((page.created_at + self.ttl).timestamp())
        claim = LinkClaim(page.escalation_id, action, page.level, expires, target_id)
        return f"{url}?token={sign(self.key, claim)}"


class Target:
    id: str
    kind: str

    def accepts(self, action: str) -> bool:
        """Whether this target takes pages of this action (trigger, acknowledge, resolve)."""
        return True

    def build(self, page: PageRequest, links: Links, now: int) -> httpx.Request:
        """The signed request for this page at time ``now`` (Unix seconds)."""
        raise NotImplementedError
