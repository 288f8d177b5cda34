"""What a page target is: one attempt to hand a page to a receiver, classified.

``Links`` is the one place the ack and resolve URLs of a page are made: every target
type renders the links it returns, so a change to the links (signed links) reaches
webhooks, PagerDuty, Slack and email alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from escalation.policy import templates
from escalation.policy.outbound import OutboundRules
from escalation.schemas import PageRequest

from ..delivery import Verdict, classify
from ..outbound import OutboundRefused


@dataclass(frozen=True)
class Links:
    """Where a receiver can act on an escalation."""

    base_url: str

    def ack(self, escalation_id: str) -> str:
        return f"{self.base_url}/v1/escalations/{escalation_id}/ack"

    def resolve(self, escalation_id: str) -> str:
        return f"{self.base_url}/v1/escalations/{escalation_id}/resolve"


@dataclass
class Wire:
    """What an attempt may use to reach a receiver: owned by the pager, shared by targets."""

    client: httpx.AsyncClient
    rules: OutboundRules = field(default_factory=OutboundRules)
    tls: Any = None
    """ssl.SSLContext for SMTP's STARTTLS (HTTP's is in the client)."""


class Target:
    id: str
    kind: str
    fallback: str | None = None
    deadline: float | None = None
    """Seconds one page may take here, retries included; None: the pager's default."""
    actions: tuple[str, ...] | None = None
    templates: dict[str, str]

    def configure(self, spec: Any) -> None:
        """Take the settings every type shares from the policy's target."""
        self.fallback = getattr(spec, "fallback", None)
        self.deadline = getattr(spec, "deadline", None)
        actions = getattr(spec, "actions", None)
        self.actions = tuple(actions) if actions else None
        self.templates = dict(getattr(spec, "templates", None) or {})
        self._compiled: dict[str, Any] = {}

    def accepts(self, action: str) -> bool:
        """Whether this target takes pages of this action (trigger, acknowledge, resolve)."""
        return self.actions is None or action in self.actions

    def render(self, name: str, page: PageRequest, links: Links) -> str:
        """The target's template ``name`` (or the default) for ``page``."""
        compiled = self._compiled
        if name not in compiled:
            source = self.templates.get(name) or templates.DEFAULTS[f"{self.kind}.{name}"]
            compiled[name] = templates.compile_template(self.kind, name, source)
        eid = page.escalation_id
        values = templates.context(page, links.ack(eid), links.resolve(eid), self.id, self.kind)
        return str(compiled[name].render(values))

    async def attempt(
        self, page: PageRequest, links: Links, wire: Wire, now: int, within: float
    ) -> Verdict:
        """One try at handing ``page`` over within ``within`` seconds, classified."""
        raise NotImplementedError


class HttpTarget(Target):
    """A target reached by one HTTP request per page."""

    def build(self, page: PageRequest, links: Links, now: int) -> httpx.Request:
        """The request for this page at time ``now`` (Unix seconds)."""
        raise NotImplementedError

    async def attempt(
        self, page: PageRequest, links: Links, wire: Wire, now: int, within: float
    ) -> Verdict:
        request = self.build(page, links, now)
        request.extensions["timeout"] = httpx.Timeout(within).as_dict()
        try:
            return classify(await wire.client.send(request))
        except OutboundRefused as exc:
            return Verdict("rejected", "forbidden", detail=str(exc))
        except httpx.HTTPError as exc:
            return classify(None, exc)
