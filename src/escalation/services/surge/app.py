"""Surge service: routed contacts -> by product -> distinct customers -> surges.

Two agents in one faust app, each taking its input in batches (``stream.noack_take``,
as the escalator does). ``repartition`` reads ``contacts.routed.v1`` in the service's
own group (contacts are keyed by customer) and writes a ``ProductReport`` to
``contacts.by-product.v1`` for every surge rule that counts the contact, keyed by the
rule and the product (or category), so one partition sees every customer of a product
(``repartition.py``). ``count`` reads that topic and the closer's ticks, keeps the
``products`` table, and on a decision (``detect.py``) writes ``surges.v1`` (keyed by
the surge's own id: the escalator pages it) and ``escalation.controls.v1`` (keyed by
the surge id: the broadcast each escalator worker reads whole to hold back covered
issues' pages). Every record of a batch is acknowledged by the broker before its states
are written, and those before its inputs are acked (``batch.py`` walks through each
crash point): a crash in between reprocesses the input, which yields the same record
ids and counts no customer twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from faust.types import EventT

from escalation.policy.reload import Derived, PolicyHolder
from escalation.policy.surges import SurgeRules
from escalation.schemas import codec
from escalation.schemas.surge import ProductTick
from escalation.schemas.surge_state import ProductState
from escalation.services.common.batches import (
    BatchStep,
    BatchWriter,
    Outgoing,
    TableWrite,
    whole_or_each,
)
from escalation.services.common.faults import classify
from escalation.services.common.policy_watch import PolicyWatcher
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import (
    BY_PRODUCT,
    CONTROLS,
    PRODUCTS_TABLE,
    ROUTED,
    SURGE_APP,
    SURGES,
    changelog_of,
)

from .batch import CountBatch
from .closer import Closer
from .detect import close_due, decide_close, decide_report
from .known import KnownStates
from .metrics import SurgeMetrics
from .repartition import Repartition

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
"""Inputs an agent decides and writes as one batch (one broker round trip per phase)."""
BATCH_SECONDS = 0.05
"""How long an agent waits for a batch to fill before it takes what it has. faust's
``noack_take`` wakes this often even when nothing arrives (each wake of the two agents
cost about 0.1 ms: at 20 ms the idle service spent 4.6 % of a core, at 100 ms 3.6 %),
and a surge, counted over minutes or hours, is not hurried by a few tens of ms."""

FETCH_WAIT_MS = 100
"""The surge agents' fetch wait on the embedded broker, unless one is set (the other
services wait 20 ms). Tansu answers a fetch that finds nothing only when its wait ends,
so the idle service fetched 50 times a second per consumer: 4.4 % of a core at 20 ms,
1.7 % at 100 ms. Under traffic a fetch finds records at once; a quiet product's first
report waits up to this much more per hop, which a surge counted over minutes allows.
Production keeps Kafka's wait, which a new record ends."""


class SurgeService(StreamService):
    def __init__(self, settings: Settings) -> None:
        slower = _slower_fetches(settings)
        super().__init__(settings, SURGE_APP, "surge", settings.surge_port, slower)
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.rules = Derived(self.holder, SurgeRules)
        self.products = self.bytes_table(PRODUCTS_TABLE)
        self.known = KnownStates()
        self.surge = SurgeMetrics(self.metrics.registry, lambda: len(self.closer.due))
        self.closer = Closer(self._settled, self._send_tick)
        self.closer_ready = False
        self.by_product = self.topic(BY_PRODUCT)
        self.reparter = Repartition(settings.kafka_partitions)
        changelog = changelog_of(SURGE_APP, PRODUCTS_TABLE)
        single = {changelog} if settings.single_record_batches else set()
        self.writer = BatchWriter(self.kafka_producer, self.retry, frozenset(single))
        self.consume_batches(
            self.topic(ROUTED),
            "repartition",
            self._each(self.repartition),
            BATCH_SIZE,
            BATCH_SECONDS,
        )
        self.consume_batches(
            self.by_product, "count", self._each(self.count), BATCH_SIZE, BATCH_SECONDS
        )
        # Ready once assigned, recovered, and the closes read back: one reason at a time.
        self.ready_checks = [lambda: self._assigned() or self._closer_pending()]
        self.products.on_recover(self._rebuild)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.app.service(PolicyWatcher(self.holder))
        self.app.service(self.closer)

    # -- the agents ------------------------------------------------------------------------

    async def repartition(self, events: list[EventT]) -> None:
        rules = self.rules.get()
        records: list[Outgoing] = []
        for event in events:
            try:
                records += self.reparter.records(rules, event.message.value)
            except Exception as exc:
                if (reason := _reason(event, exc)) == "bug":
                    log.error("message.handler_failed", exc_info=exc, offset=event.message.offset)
                records.append(self.dead_letter_record(event, reason, exc))
        await self.writer.send_together(records, **_held(events))
        self.metrics.produced.labels(BY_PRODUCT).inc(sum(r.topic == BY_PRODUCT for r in records))

    async def count(self, events: list[EventT]) -> None:
        batch = CountBatch(self._read)
        for event in events:
            try:
                self._decide(batch, event)
            except Exception as exc:
                if (reason := _reason(event, exc)) == "bug":
                    log.error("message.handler_failed", exc_info=exc, offset=event.message.offset)
                batch.outputs.append(self.dead_letter_record(event, reason, exc))
        held = _held(events)
        await self.writer.send_together(batch.outputs, **held)
        encoded = {key: codec.encode(c.state) for key, c in batch.changed.items()}
        writes = [
            TableWrite(self.products, c.event, k, encoded[k]) for k, c in batch.changed.items()
        ]
        await self.writer.write_tables(writes, **held)
        for key, changed in batch.changed.items():
            self.known.wrote(key, encoded[key], changed.state)
            self.closer.put(changed.name, close_due(changed.state), changed.state.version)
        self._observe(batch)

    def _decide(self, batch: CountBatch, event: EventT) -> None:
        """One report or tick, decided against the batch's states; its records queued."""
        now = datetime.now(UTC)
        signal = codec.decode_product_signal(event.message.value)
        key = signal.key.encode()
        before = batch.state(key)
        if isinstance(signal, ProductTick):
            decision = decide_close(before, signal, now)
        else:
            decision = decide_report(before, signal, now)
        outputs = []
        for record in decision.events:
            ident = record.cause_id.encode()
            outputs.append(self._out(SURGES, record.customer_id, codec.encode(record), ident))
        for control in decision.controls:
            ident = f"{control.id}:{control.active}".encode()
            outputs.append(self._out(CONTROLS, control.id, codec.encode(control), ident))
        batch.outputs += outputs
        batch.records += decision.events
        batch.controls += len(decision.controls)
        batch.outcomes[decision.outcome] += 1
        if decision.outcome not in ("stale", "early"):
            batch.put(key, signal.key, event, decision.state)

    def _out(self, topic: str, key: str, value: bytes, ident: bytes) -> Outgoing:
        raw = key.encode()
        partition = self.reparter.partition_of(raw)
        return Outgoing(topic, partition, raw, value, [("event-id", ident)])

    def _observe(self, batch: CountBatch) -> None:
        """Metrics and log lines of a batch the broker has taken."""
        for outcome, n in batch.outcomes.items():
            self.surge.outcomes.labels(outcome).inc(n)
        for record in batch.records:
            self.surge.lifecycle.labels(record.type).inc()
            log.info(
                "surge.event", type=record.type, surge_id=record.surge_id, reason=record.reason
            )
        self.metrics.produced.labels(SURGES).inc(len(batch.records))
        self.metrics.produced.labels(CONTROLS).inc(batch.controls)

    def _read(self, key: bytes) -> ProductState | None:
        return self.known.read(key, self.products.get(key))

    # -- faults ----------------------------------------------------------------------------

    def _each(self, step: BatchStep) -> BatchStep:
        """``step`` on a batch, or on each input when the batch fails (``whole_or_each``)."""
        return whole_or_each(step, self.writer, self.dead_letter_record, "surge")

    # -- the closer ------------------------------------------------------------------------

    async def _send_tick(self, tick: ProductTick) -> None:
        sent = await self.by_product.send(key=tick.key.encode(), value=codec.encode(tick))
        await sent

    async def _rebuild(self) -> None:
        entries = []
        for raw in list(self.products.values()):
            if raw is None:
                continue
            try:
                state = codec.decode_product_state(raw)
            except codec.DecodeError:
                log.exception("surge.state_unreadable")
                continue
            entries.append((state.key, close_due(state), state.version))
        self.closer.rebuild(entries)
        self.closer_ready = True

    async def _revoked(self, sender: Any, revoked: Any = (), **kwargs: Any) -> None:
        self.closer_ready = False

    def _closer_pending(self) -> str | None:
        return None if self.closer_ready else "surge closes not yet read from the recovered state"

    def _settled(self) -> bool:
        return self.closer_ready and not self.app.rebalancing and not self.app.in_recovery


def _slower_fetches(settings: Settings) -> dict[str, Any]:
    """faust's broker URL with ``FETCH_WAIT_MS`` (see there), when nothing else is set."""
    if settings.consumer_fetch_max_wait_ms is not None:
        return {}
    if settings.fetch_max_wait_ms >= FETCH_WAIT_MS:
        return {}
    waits = settings.model_copy(update={"consumer_fetch_max_wait_ms": FETCH_WAIT_MS})
    return {"broker": waits.faust_options()["broker"]}


def _reason(event: EventT, exc: Exception) -> str:
    """Why an input cannot be decided: its dead letter's reason (sent with the batch)."""
    reason = classify(exc, event.message.value)
    return "bug" if reason == "dependency" else reason  # deciding never talks to the broker


def _held(events: list[EventT]) -> dict[str, int]:
    """What a retry log line names: none of the batch is committed while it retries."""
    first = events[0].message
    return {"partition": first.partition, "offset": first.offset, "messages": len(events)}


def build(settings: Settings) -> SurgeService:
    return SurgeService(settings)
