"""What a page target is: one attempt to hand a page to a receiver, classified.

``Links`` is the one place the ack and resolve URLs of a page are made: every target
type renders the links it returns, so a change to the links (signed links) reaches
webhooks, PagerDuty, Slack and email alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import httpx
from yarl import URL

from escalation.policy import templates
from escalation.policy.outbound import OutboundRules
from escalation.schemas import PageRequest
from escalation.services.common.links import LinkClaim, sign

from ..delivery import Verdict, classify
from ..outbound import OutboundRefused
from ..transport import AiohttpTransport, Post


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


@dataclass
class Wire:
    """What an attempt may use to reach a receiver: owned by the pager, shared by targets."""

    http: AiohttpTransport
    """Carries every HTTP attempt; its answers are read whole."""
    rules: OutboundRules = field(default_factory=OutboundRules)
    tls: Any = None
    """ssl.SSLContext for SMTP's STARTTLS (HTTP's is in the transport)."""


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
        ack, resolve = links.ack(page, self.id), links.resolve(page, self.id)
        values = templates.context(page, ack, resolve, self.id, self.kind)
        return str(compiled[name].render(values))

    async def attempt(
        self, page: PageRequest, links: Links, wire: Wire, now: int, within: float
    ) -> Verdict:
        """One try at handing ``page`` over within ``within`` seconds, classified."""
        raise NotImplementedError


class HttpTarget(Target):
    """A target reached by one HTTP request per page."""

    url: str

    @cached_property
    def endpoint(self) -> URL:
        """``url`` parsed and encoded once, by httpx's rules, for every request."""
        return URL(str(httpx.URL(self.url)), encoded=True)

    def build(self, page: PageRequest, links: Links, now: int) -> Post:
        """The request for this page at time ``now`` (Unix seconds)."""
        raise NotImplementedError

    async def attempt(
        self, page: PageRequest, links: Links, wire: Wire, now: int, within: float
    ) -> Verdict:
        post = self.build(page, links, now)
        try:
            return classify(await wire.http.post(post, within))
        except OutboundRefused as exc:
            return Verdict("rejected", "forbidden", detail=str(exc))
        except httpx.HTTPError as exc:
            return classify(None, exc)
