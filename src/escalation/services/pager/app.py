"""Pager service: pages.v1 -> signed delivery to each target, at most once per page id.

A page id is delivered to a target, then remembered in a changelog-backed table, so a
replay after a crash or rebalance skips it. A crash between the two re-delivers with the
same webhook-id, which Standard Webhooks receivers use to drop the copy.

The targets follow the policy file as the router does: the same ``PolicyHolder`` reloads
it on change and on SIGHUP, and the targets are rebuilt once per new policy version, so a
target added to the file is delivered to without a restart.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import httpx
import structlog
from faust.types import EventT
from prometheus_client import Counter, Histogram

from escalation.policy import LoadedPolicy
from escalation.policy.reload import Derived, PolicyHolder
from escalation.schemas import PageRequest, codec
from escalation.services.common.faults import DeadLetter
from escalation.services.common.policy_watch import PolicyWatcher
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import DELIVERED_TABLE, PAGER_APP, PAGES

from .delivery import Backoff, deliver
from .targets.base import Links, Target
from .targets.registry import build_targets

log = structlog.get_logger(__name__)


class PageUndeliverable(DeadLetter):
    """Every attempt failed or the receiver rejected the page: the page goes to the DLQ."""

    reason = "undeliverable"


class PagerService(StreamService):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, PAGER_APP, "pager", settings.pager_port)
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.targets = Derived(self.holder, self._build_targets)
        base = settings.intake_public_url or f"http://{settings.intake_host}:{settings.intake_port}"
        keys = settings.link_key_values()  # production refuses to start without one
        self.links = Links(base.rstrip("/"), keys[0] if keys else None, settings.link_ttl)
        if not keys:
            log.warning(
                "pager.unsigned_links",
                why="no ESCALATION_LINK_KEYS: page links "
                "are bare API URLs that need a bearer token",
            )
        self.backoff = Backoff(
            settings.pager_backoff_base_seconds,
            settings.pager_backoff_max_seconds,
            settings.pager_max_attempts,
        )
        self.delivered = self.bytes_table(DELIVERED_TABLE)
        registry = self.metrics.registry
        self.attempts = Counter(
            "escalation_page_attempts_total",
            "Delivery attempts by target and result reason.",
            ["target", "reason"],
            registry=registry,
        )
        self.pages_sent = Counter(
            "escalation_pages_delivered_total",
            "Pages delivered, by target and action.",
            ["target", "action"],
            registry=registry,
        )
        self.page_latency = Histogram(
            "escalation_page_delivery_seconds",
            "From page request to delivery.",
            ["target"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.client: httpx.AsyncClient | None = None
        self.ready_checks.append(self._targets_ready)
        self.consume(self.topic(PAGES), "deliver-pages", self.handle)
        self.app.service(self._client_owner())
        self.app.service(PolicyWatcher(self.holder))

    def _build_targets(self, loaded: LoadedPolicy) -> tuple[dict[str, Target], list[str]]:
        targets, problems = build_targets(loaded.policy, os.environ)
        for problem in problems:
            log.error("pager.target_unusable", problem=problem, policy=loaded.version)
        log.info("pager.targets_built", policy=loaded.version, targets=sorted(targets))
        return targets, problems

    def _targets_ready(self) -> str | None:
        _, problems = self.targets.get()
        return "; ".join(problems) or None

    def _client_owner(self) -> object:
        import mode

        pager = self

        class HttpClient(mode.Service):
            async def on_start(self) -> None:
                pager.client = httpx.AsyncClient(
                    timeout=pager.settings.pager_timeout_seconds, follow_redirects=False
                )

            async def on_stop(self) -> None:
                if pager.client is not None:
                    await pager.client.aclose()

        return HttpClient()

    async def handle(self, event: EventT) -> None:
        page = codec.decode_page(event.message.value)
        targets, _ = self.targets.get()  # one set for the whole page, even across a reload
        failures = []
        for target_id in page.targets or []:
            key = f"{page.page_id}|{target_id}".encode()
            if self.delivered.get(key) is not None:
                self.metrics.duplicates.labels(PAGES).inc()
                continue
            target = targets.get(target_id)
            if target is None:
                failures.append(
                    f"{target_id}: unknown or unusable target in policy {self.targets.built_from}"
                )
                continue
            error = await self._deliver(target, page)
            if error:
                failures.append(error)
                continue
            self.delivered[key] = str(int(time.time())).encode()
        if not page.targets:
            failures.append("page names no targets")
        if failures:
            raise PageUndeliverable("; ".join(failures))

    async def _deliver(self, target: Target, page: PageRequest) -> str | None:
        assert self.client is not None
        if not target.accepts(page.action):
            return None
        result = await deliver(
            self.client,
            lambda: target.build(page, self.links, int(time.time())),
            self.backoff,
            on_attempt=lambda v: self.attempts.labels(target.id, v.reason).inc(),
        )
        if result.verdict.outcome == "delivered":
            self.pages_sent.labels(target.id, page.action).inc()
            lag = (datetime.now(UTC) - page.created_at).total_seconds()
            self.page_latency.labels(target.id).observe(max(lag, 0.0))
            log.info(
                "page.delivered",
                target=target.id,
                page_id=page.page_id,
                escalation_id=page.escalation_id,
                action=page.action,
                attempts=result.attempts,
            )
            return None
        return (
            f"{target.id}: {result.verdict.outcome} ({result.verdict.reason}) "
            f"after {result.attempts} attempt(s)"
        )


def build(settings: Settings) -> PagerService:
    return PagerService(settings)
