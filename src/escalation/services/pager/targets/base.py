"""What a page target is: something that turns a page into one HTTP request."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from escalation.schemas import PageRequest


@dataclass(frozen=True)
class Links:
    """Where a receiver can act on an escalation."""

    base_url: str

    def ack(self, escalation_id: str) -> str:
        return f"{self.base_url}/v1/escalations/{escalation_id}/ack"

    def resolve(self, escalation_id: str) -> str:
        return f"{self.base_url}/v1/escalations/{escalation_id}/resolve"


class Target:
    id: str
    kind: str

    def accepts(self, action: str) -> bool:
        """Whether this target takes pages of this action (trigger, acknowledge, resolve)."""
        return True

    def build(self, page: PageRequest, links: Links, now: int) -> httpx.Request:
        """The signed request for this page at time ``now`` (Unix seconds)."""
        raise NotImplementedError
