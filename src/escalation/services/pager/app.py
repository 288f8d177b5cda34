"""Pager service: pages.v1 -> each target's lane -> outcomes on escalations.v1.

One agent reads ``pages.v1`` (co-partitioned with the pager's table: every topic is
keyed by the customer): for each target of a page it records the delivery as pending
and hands it to the target's lane (``lanes.py``), and never waits for a receiver, so a
dead receiver delays only its own pages. The agent takes its inputs in batches, each
written whole (records, then the table's changelog) before any of it is handed to a
lane (``batch.py``). The lanes deliver concurrently, with retries, a deadline and a
circuit breaker per target, and hand each outcome to the ``Reporter``, which keeps the
books (``bookkeeping.py``) for every outcome gathered since its last write, in one plan:
the outcome records on ``escalations.v1``, then the table (delivered, or dead-lettered
with the fallback sent).
A crash anywhere leaves a pending record, which recovery hands back to its lane: a page
may be sent twice, always with the same id (webhook-id, dedup_key, Message-ID), and is
never lost. docs/decisions.md says why lanes rather than a retry topic, and why the
books no longer read the pager's own records back.

The targets follow the policy file as the router does: the same ``PolicyHolder`` reloads
it on change and on SIGHUP, and the targets are rebuilt once per new policy version, so a
target added to the file is delivered to without a restart.
"""

from __future__ import annotations

import os
import time
from typing import Any

import structlog
from faust.types import EventT

from escalation.policy import LoadedPolicy
from escalation.policy.outbound import OutboundRules
from escalation.policy.reload import Derived, PolicyHolder
from escalation.schemas import codec
from escalation.services.common.batches import BatchWriter
from escalation.services.common.policy_watch import PolicyWatcher
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService, header_map
from escalation.services.common.topics import (
    DELIVERED_TABLE,
    ESCALATIONS,
    PAGER_APP,
    PAGES,
    changelog_of,
    dlq_of,
)

from .batch import BATCH_SECONDS, BATCH_SIZE, Batches, Offer, Plan
from .bookkeeping import Bookkeeper
from .breaker import Breaker
from .courier import Courier
from .delivery import Backoff
from .lanes import Job, Lanes
from .ledger import Ledger, Record, key
from .metrics import PagerMetrics
from .outcomes import Publisher, outcome
from .owners import Owned, wire_for
from .reporter import Reporter
from .targets.base import Links, Target
from .targets.registry import build_targets

log = structlog.get_logger(__name__)


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
        self.rules = OutboundRules.from_environ(os.environ)
        self.backoff = Backoff(
            settings.pager_backoff_base_seconds,
            settings.pager_backoff_max_seconds,
            settings.pager_max_attempts,
            settings.pager_timeout_seconds,
        )
        self.pager_metrics = PagerMetrics(self.metrics.registry)
        self.table = self.bytes_table(DELIVERED_TABLE)
        self.ledger = Ledger(self.table, settings.pager_delivered_horizon.total_seconds())
        self.publisher = Publisher(self.topic(ESCALATIONS), self.topic(dlq_of(PAGES)), self.metrics)
        self.breakers: dict[str, Breaker] = {}
        self.settled: set[bytes] = set()
        """Deliveries whose outcome is written but not yet read back by the books."""
        self.courier = Courier(self)
        self.lanes = Lanes(
            settings.pager_lane_capacity, settings.pager_lane_concurrency, self.courier.run
        )
        self.books = Bookkeeper(self)
        self.wire = wire_for(self.rules, settings)  # before any agent or lane can run
        self.ready_checks.append(self._targets_ready)
        single = (
            {changelog_of(PAGER_APP, DELIVERED_TABLE)} if settings.single_record_batches else set()
        )
        writer = BatchWriter(self.kafka_producer, self.retry, frozenset(single))
        self.batches = Batches(self, writer)
        self.reporter = Reporter(self)
        handler = self.batches.handler(self.take)
        self.consume_batches(self.topic(PAGES), "deliver-pages", handler, BATCH_SIZE, BATCH_SECONDS)
        self.table.on_recover(self._resume)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.app.service(Owned(self))
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

    def breaker(self, target: str) -> Breaker:
        if target not in self.breakers:
            self.breakers[target] = Breaker(
                self.settings.pager_breaker_failures, self.settings.pager_breaker_reset_seconds
            )
        return self.breakers[target]

    def take(self, event: EventT, plan: Plan) -> None:
        """Take one page: pending per target, a job for its lane; never wait for a receiver."""
        message = event.message
        page = codec.decode_page(message.value)
        targets, _ = self.targets.get()  # one set for the whole page, even across a reload
        now = time.time()
        headers = {k: v.decode(errors="replace") for k, v in header_map(event).items()}
        if not page.targets:
            plan.outputs.append(
                self.publisher.dead_letter_outgoing(
                    message.value,
                    message.key or b"",
                    headers,
                    message.partition,
                    message.offset,
                    None,
                    "page names no targets",
                )
            )
            failed = outcome("page.failed", page, "page names no targets", error="no targets")
            plan.outputs.append(self.publisher.outgoing(failed, message.partition))
        for target_id in dict.fromkeys(page.targets):
            ident = key(page.page_id, target_id)
            if ident in plan.offered:
                continue  # taken up by an earlier input of this batch
            known = plan.ledger.get(ident)
            if known is not None and (known.state == "delivered" or self.in_hand(ident)):
                if known.state == "delivered":
                    self.metrics.duplicates.labels(PAGES).inc()
                continue  # delivered, in its lane, or its outcome on the way to the books
            target = targets.get(target_id)
            if target is not None and not target.accepts(page.action):
                continue
            if known is None:
                record = Record(
                    "pending", now, message.partition, message.value, headers, message.offset
                )
                plan.ledger.pend(ident, record)
            # else: pending but in no one's hands (a retried input): take it up again
            started = known.at if known is not None else now
            job = Job(page, target_id, message.partition, started)
            if target is None:
                why = f"{target_id}: unknown or unusable target in policy {self.targets.built_from}"
                self.books.fail(job, why, None, plan)
            else:
                why = f"{target_id}: {self.settings.pager_lane_capacity} pages already waiting"
                plan.offers.append(Offer(job, why, target.fallback))
                plan.take_up(ident)
        self.pager_metrics.expired.inc(plan.ledger.sweep(message.partition))

    def owned(self) -> set[int]:
        """The partitions of ``pages.v1`` (and so of the table) this worker holds now."""
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == PAGES}

    def in_hand(self, ident: bytes) -> bool:
        """Whether a pending delivery is being worked on: in a lane, or its outcome written."""
        target = ident.decode().split("|", 1)[1]
        lane = self.lanes.lanes.get(target)
        return ident in self.settled or (lane is not None and ident in lane.keys)

    async def _resume(self) -> None:
        """After recovery: every pending delivery of our partitions goes back to its lane."""
        actives = self.app.assignor.assigned_actives()
        assigned = {tp.partition for tp in actives if tp.topic == PAGES}
        resumed = 0
        for ident, record in self.ledger.recovered(assigned):
            page = codec.decode_page(record.page)
            target = ident.decode().split("|", 1)[1]
            job = Job(page, target, record.partition or 0, record.at, record.fallback_for)
            if self.lanes.offer(job):
                resumed += 1
        log.info("pager.resumed", pending=resumed, partitions=sorted(assigned))

    async def _revoked(self, sender: Any, revoked: Any = (), **kwargs: Any) -> None:
        self.lanes.revoke({tp.partition for tp in revoked or () if tp.topic == PAGES})


def build(settings: Settings) -> PagerService:
    return PagerService(settings)
