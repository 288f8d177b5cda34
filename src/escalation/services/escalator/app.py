"""Escalator service: routed contacts, commands and timer ticks -> issue table -> escalations
and pages.

One agent reads ``contacts.routed.v1``, ``escalation.commands.v1`` and
``escalation.ticks.v1``: all keyed by customer id and co-partitioned, so the issue an
input names lives in the partition (and the table shard) the agent already holds. The
ticks come from the worker's own timer task (``scanner.py``), one for each issue whose
deadline passed, on the partition that holds it: a ladder step, a missed commitment, a
customer's deadline or a follow-up is decided in the agent like any input, with the same
rule: effects first, then the state.

The agent takes its inputs in batches (``ESCALATION_ESCALATOR_BATCH_SIZE``, waiting at most
``ESCALATION_ESCALATOR_BATCH_SECONDS`` to fill one), decides each in order against the
batch's overlay of states (``batch.py``), and applies the batch in three steps, each
acknowledged by the broker before the next: every output, then the timelines, then the
states; only then are its inputs acked, so committed. One round trip per step and batch,
where a message at a time paid one per input.

The escalator follows the policy file as the router and the pager do (reloaded on change
and on SIGHUP) and gives every decision a roster of the policy in force, so a step pages
whoever is on call when it fires. The query API (``query.py``) is served on its web port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import structlog
from aiokafka.partitioner import DefaultPartitioner
from faust.types import EventT

from escalation.policy import PolicyRoster
from escalation.policy.quiet import QuietRules
from escalation.policy.reload import Derived, PolicyHolder
from escalation.policy.silencing import PolicySilences
from escalation.schemas import Tick, codec
from escalation.schemas.silence import Silence
from escalation.schemas.state import IssueState
from escalation.services.common import crashpoints
from escalation.services.common.batches import BatchWriter, whole_or_each
from escalation.services.common.controls import ControlsReader, ControlsView
from escalation.services.common.faults import classify
from escalation.services.common.http import HttpApp
from escalation.services.common.metrics import Children
from escalation.services.common.policy_watch import PolicyWatcher
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import (
    COMMANDS,
    ESCALATIONS,
    ESCALATOR_APP,
    ISSUES_TABLE,
    PAGES,
    ROUTED,
    SURGES,
    TICKS,
    TIMELINES_TABLE,
    changelog_of,
)

from .batch import Overlay, Plan, writes
from .due import Due, DueIndex
from .holdings import Holdings
from .holds import apply_holds
from .inputs import decide, outputs
from .metrics import EscalatorMetrics
from .observe import Observer
from .open_index import OpenEscalations
from .query import Query
from .rules import Decision
from .scanner import TickScanner, utc_now
from .timeline import appended

log = structlog.get_logger(__name__)

BATCH_BYTES = 512 * 1024
"""Producer record batch size, under Kafka's default 1 MB message.max.bytes."""
PARTITIONS_CACHED = 1 << 16
"""Customer keys whose partition is remembered."""


class EscalatorService(StreamService):
    def __init__(self, settings: Settings) -> None:
        # Record batches as large as the router's: a batch's outputs leave in a few.
        bigger = {} if settings.single_record_batches else {"producer_max_batch_size": BATCH_BYTES}
        super().__init__(settings, ESCALATOR_APP, "escalator", settings.escalator_port, bigger)
        # What the other workers forward a query to (faust's assignor shares it).
        self.app.conf.canonical_url = settings.escalator_own_url
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.roster = Derived(self.holder, PolicyRoster)
        self.quiet = Derived(self.holder, QuietRules)
        self.file_silences = Derived(self.holder, PolicySilences)
        self.issues = self.bytes_table(ISSUES_TABLE, on_changelog_event=self._recovered)
        self.timelines = self.bytes_table(TIMELINES_TABLE)
        self.clock: Callable[[], datetime] = utc_now
        self.timers = DueIndex()
        self.timers_ready = False
        self.open = OpenEscalations()
        self.controls = ControlsView()  # open surges, read whole by every worker
        self.engine = EscalatorMetrics(
            self.metrics.registry,
            lambda: len(self.timers),
            self.open,
            lambda: len(self.controls.active("surge")),
            lambda: len(self._api_silences(self.clock())),
        )
        self.observer = Observer(self.engine)
        self.produced = Children(self.metrics.produced)
        self.duplicates = Children(self.metrics.duplicates)
        self.holdings = Holdings(
            self.issues,
            self.timelines,
            settings.kafka_partitions,
            self._held,
            self._unsettled,
            self._holder_url,
        )
        self.scanner = TickScanner(
            self.timers, self._settled, self._send_tick, settings.escalator_tick_idle_seconds
        )
        self.controls_reader = ControlsReader(settings, self.controls)
        self.controls.listeners.append(self._control_changed)
        self._releases: set[asyncio.Future[None]] = set()
        self.inputs = self.topic(ROUTED, COMMANDS, TICKS, SURGES)
        self.ticks_out = self.topic(TICKS)
        changelogs = {changelog_of(ESCALATOR_APP, t) for t in (ISSUES_TABLE, TIMELINES_TABLE)}
        single = changelogs if settings.single_record_batches else set()
        self.writer = BatchWriter(self.kafka_producer, self.retry, frozenset(single))
        self.partitions = list(range(settings.kafka_partitions))
        self.partitioner = DefaultPartitioner()
        # Kafka's murmur2 runs in Python, and a decision's record and page share a key.
        self._partition_of = lru_cache(maxsize=PARTITIONS_CACHED)(self._partition_of)
        self.handle_batch = whole_or_each(
            self._decide_and_apply, self.writer, self.dead_letter_record, "escalator"
        )
        self.consume_batches(
            self.inputs,
            "escalate",
            self.handle_batch,
            settings.escalator_batch_size,
            settings.escalator_batch_seconds,
        )
        # Ready once assigned, recovered, and the deadlines read back: one reason at a time.
        self.ready_checks = [lambda: self._unsettled() or self.controls_reader.ready()]
        self.issues.on_recover(self._rebuild_timers)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.app.service(PolicyWatcher(self.holder))
        self.app.service(self.scanner)
        self.app.service(self.controls_reader)

    # -- a batch of inputs ----------------------------------------------------------------

    async def _decide_and_apply(self, events: list[EventT]) -> None:
        """Decide the batch in order, then apply it: outputs, timelines, states.

        Each input's own fault goes to the DLQ while the batch is decided; a failure in
        applying it is pinned on one input by ``whole_or_each`` (``handle_batch``).
        """
        await self._apply(self._plan(events), events)

    def _plan(self, events: list[EventT]) -> Plan:
        """Every input decided in order against the batch's overlay; never raises."""
        plan = Plan(Overlay(self.holdings.state, self.holdings.timeline))
        roster = self.roster.get()
        for event in events:
            try:
                self._plan_one(plan, event, roster)
            except Exception as exc:
                reason = classify(exc, event.message.value)
                if reason == "dependency":  # nothing here talks to the broker: ours
                    reason = "bug"
                if reason == "bug":
                    log.error("message.handler_failed", exc_info=exc, offset=event.message.offset)
                plan.outputs.append(self.dead_letter_record(event, reason, exc))
        return plan

    def _plan_one(self, plan: Plan, event: EventT, roster: PolicyRoster | None) -> None:
        now = self.clock()
        controls = self.controls.controls
        got = decide(event, plan.overlay.state, now, roster, controls, self._held_back)
        key, before, decision = got.key, got.before, got.decision
        self.observer.decided(got.kind, before, decision, now, got.contact, got.command)
        if decision.outcome == "duplicate":
            self.duplicates(event.message.topic).inc()
            return
        partition = event.message.partition
        if before is None and decision.state is None:
            plan.forget[key] = partition  # a tick for nothing held
        sent = outputs(decision, self._partition_of)
        if decision.state is not None and decision.state is not before:
            state = (decision.state, codec.encode(decision.state))
            timeline = None
            if decision.escalations:
                after = appended(plan.overlay.timeline(key), decision.escalations, decision.pages)
                timeline = (after, codec.encode(after)) if after is not None else None
            plan.overlay.put(key, event, state, timeline)
        plan.outputs += sent
        plan.records += [r for r in decision.escalations if r.type != "paged"]
        plan.pages += len(decision.pages)
        plan.paging += bool(decision.pages)

    async def _apply(self, plan: Plan, events: list[EventT]) -> None:
        """Outputs, then timelines, then states, each acknowledged before the next."""
        first = events[0].message  # a retry log names it: none of the batch is committed
        held = {"partition": first.partition, "offset": first.offset, "messages": len(events)}
        await self.writer.send_together(plan.outputs, **held)
        for _ in range(plan.paging):
            crashpoints.crash_point("escalator.after_emit")
        overlay = plan.overlay
        await self.writer.write_tables(writes(self.timelines, overlay.timelines), **held)
        await self.writer.write_tables(writes(self.issues, overlay.states), **held)
        for key, partition in plan.forget.items():
            if key not in overlay.states:
                self.timers.put(key, partition, None)
        for key, partition, state in overlay.written():
            self._remember(key, partition, state)
        self._count(plan)

    def _count(self, plan: Plan) -> None:
        for record in plan.records:
            self.engine.lifecycle_of(record.type).inc()
        self.produced(ESCALATIONS).inc(len(plan.records))
        self.produced(PAGES).inc(plan.pages)

    def _partition_of(self, key: bytes) -> int:
        """Where the producer's default partitioner (Kafka's) puts ``key``."""
        return int(self.partitioner(key, self.partitions, self.partitions))

    def _remember(self, key: bytes, partition: int, state: IssueState) -> None:
        self.holdings.learn(key, partition)
        self.open.put(key, state)
        if self.timers.put(key, partition, state):
            self.scanner.wake()

    # -- timers --------------------------------------------------------------------------

    async def _send_tick(self, due: Due) -> None:
        tick = due.tick
        ident = f"tick:{tick.customer_id}/{tick.issue_id}:{tick.version}"
        sent = await self.ticks_out.send(
            key=tick.customer_id.encode(),
            value=codec.encode(tick),
            partition=due.partition,
            headers=[("event-id", ident.encode())],
        )
        await sent  # the broker's ack: a tick not taken is tried again (scanner.py)
        self.engine.ticks_sent.inc()
        self.metrics.produced.labels(TICKS).inc()

    def _held_back(
        self, before: IssueState | None, decision: Decision, now: datetime, contact: Any
    ) -> Decision:
        """Silences (API, file, maintenance) and quiet hours hold pages back (holds.py)."""
        silences = self.file_silences.get().active(now) + self._api_silences(now)
        return apply_holds(before, decision, silences, self.quiet.get(), now, contact)

    def _api_silences(self, now: datetime) -> list[Silence]:
        found = [c.silence for c in self.controls.active("silence") if c.silence is not None]
        return [s for s in found if s.starts_at <= now < s.ends_at]

    def _control_changed(self, control: Any) -> None:
        """A surge closed or a silence expired: tick each issue it held here, so the
        release happens now."""
        if control.active or not self._settled():
            return
        for key, partition, state in self.holdings.held_states():
            silenced = state.hold is not None and state.hold.silence_id == control.id
            surged = state.surge is not None and state.surge.held and state.surge.id == control.id
            if silenced or surged:
                tick = Tick(
                    customer_id=state.customer_id,
                    issue_id=state.issue_id,
                    version=state.version,
                    due=control.at,
                )
                task = asyncio.ensure_future(self._send_tick(Due(key, partition, tick)))
                self._releases.add(task)  # a send that fails leaves it to the next input
                task.add_done_callback(self._releases.discard)

    async def _recovered(self, event: EventT) -> None:
        """Table recovery read this key's state from a changelog partition: remember which."""
        if self.app.in_recovery and event.message.key is not None:
            self.holdings.learn(event.message.key, event.message.partition)

    async def _rebuild_timers(self) -> None:
        started = time.perf_counter()
        self.timers.rebuild(self.holdings.held_states())
        self.open.rebuild(self.holdings.held_states())
        self.timers_ready = True
        elapsed = time.perf_counter() - started
        self.engine.rebuild_seconds.observe(elapsed)
        log.info(
            "escalator.timers_rebuilt",
            pending=len(self.timers),
            partitions=sorted(self._held()),
            seconds=round(elapsed, 3),
        )
        self.scanner.wake()

    async def _revoked(self, sender: Any, revoked: Any = (), **kwargs: Any) -> None:
        self.timers_ready = False  # until the index is rebuilt for the new assignment

    def _timers_pending(self) -> str | None:
        return None if self.timers_ready else "deadlines not yet read from the recovered state"

    def _settled(self) -> bool:
        return self.timers_ready and not self.app.rebalancing and not self.app.in_recovery

    def _held(self) -> set[int]:
        actives = self.app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic == TICKS}

    # -- the query API -------------------------------------------------------------------

    def _unsettled(self) -> str | None:
        return self._assigned() or self._timers_pending()

    def _holder_url(self, partition: int) -> str | None:
        changelog = changelog_of(ESCALATOR_APP, ISSUES_TABLE)
        own = self.settings.escalator_own_url
        for url, topics in self.app.assignor.table_metadata(changelog).items():
            if partition in topics.get(changelog, ()) and str(url).rstrip("/") != own:
                return str(url)
        return None

    def http(self) -> HttpApp:
        http = super().http()
        Query(self.holdings).routes(http)
        return http


def build(settings: Settings) -> EscalatorService:
    return EscalatorService(settings)
