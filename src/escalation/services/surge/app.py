"""Surge service: routed contacts -> by product -> distinct customers -> surges.

Two agents in one faust app. ``repartition`` reads ``contacts.routed.v1`` in the
service's own group (contacts are keyed by customer) and writes a ``ProductReport`` to
``contacts.by-product.v1`` for every surge rule that counts the contact, keyed by the
rule and the product (or category), so one partition sees every customer of a product.
``count`` reads that topic and the closer's ticks, keeps the ``products`` table, and on
a decision (``detect.py``) writes ``surges.v1`` (keyed by the surge's own id: the
escalator pages it) and ``escalation.controls.v1`` (keyed by the surge id: the broadcast
each escalator worker reads whole to hold back covered issues' pages). Effects are
acknowledged before the state is written, as everywhere else: a crash in between
reprocesses the input, which yields the same record ids.
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
)

from .closer import Closer
from .detect import SurgeDecision, close_due, decide_close, decide_report
from .known import KnownStates
from .metrics import SurgeMetrics

log = structlog.get_logger(__name__)


class SurgeService(StreamService):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, SURGE_APP, "surge", settings.surge_port)
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.rules = Derived(self.holder, SurgeRules)
        self.products = self.bytes_table(PRODUCTS_TABLE)
        self.known = KnownStates()
        self.surge = SurgeMetrics(self.metrics.registry, lambda: len(self.closer.due))
        self.closer = Closer(self._settled, self._send_tick)
        self.closer_ready = False
        self.by_product = self.topic(BY_PRODUCT)
        self.surges_out = self.topic(SURGES)
        self.controls_out = self.topic(CONTROLS)
        self.consume(self.topic(ROUTED), "repartition", self.repartition)
        self.consume(self.by_product, "count", self.count)
        # Ready once assigned, recovered, and the closes read back: one reason at a time.
        self.ready_checks = [lambda: self._assigned() or self._closer_pending()]
        self.products.on_recover(self._rebuild)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.app.service(PolicyWatcher(self.holder))
        self.app.service(self.closer)

    async def repartition(self, event: EventT) -> None:
        routed = codec.decode_routed(event.message.value)
        pending = []
        for report in self.rules.get().reports(routed, routed.routing.route):
            pending.append(
                await self.by_product.send(
                    key=report.key.encode(),
                    value=codec.encode(report),
                    headers=[("event-id", routed.event_id.encode())],
                )
            )
        for future in pending:
            await future  # the broker's ack before faust may commit the routed contact
        self.metrics.produced.labels(BY_PRODUCT).inc(len(pending))

    async def count(self, event: EventT) -> None:
        now = datetime.now(UTC)
        signal = codec.decode_product_signal(event.message.value)
        key = signal.key.encode()
        before = self.known.read(key, self.products.get(key))
        if isinstance(signal, ProductTick):
            decision = decide_close(before, signal, now)
        else:
            decision = decide_report(before, signal, now)
        self.surge.outcomes.labels(decision.outcome).inc()
        await self._emit(decision)
        if decision.outcome in ("stale", "early"):
            return
        raw = codec.encode(decision.state)
        self.products[key] = raw
        self.known.wrote(key, raw, decision.state)
        self.closer.put(signal.key, close_due(decision.state), decision.state.version)

    async def _emit(self, decision: SurgeDecision) -> None:
        pending = []
        for record in decision.events:
            pending.append(
                await self.surges_out.send(
                    key=record.customer_id.encode(),
                    value=codec.encode(record),
                    headers=[("event-id", record.cause_id.encode())],
                )
            )
            self.surge.lifecycle.labels(record.type).inc()
            log.info(
                "surge.event", type=record.type, surge_id=record.surge_id, reason=record.reason
            )
        for control in decision.controls:
            pending.append(
                await self.controls_out.send(
                    key=control.id.encode(),
                    value=codec.encode(control),
                    headers=[("event-id", f"{control.id}:{control.active}".encode())],
                )
            )
        for future in pending:
            await future
        self.metrics.produced.labels(SURGES).inc(len(decision.events))
        self.metrics.produced.labels(CONTROLS).inc(len(decision.controls))

    # -- the closer ----------------------------------------------------------------------

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


def build(settings: Settings) -> SurgeService:
    return SurgeService(settings)
