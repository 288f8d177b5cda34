"""Router service: contacts.v1 -> one empowered owner under policy -> contacts.routed.v1.

It also reads escalations.v1 (co-partitioned by customer id) to release an owner's
capacity when an issue is resolved.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from faust.types import EventT
from prometheus_client import Counter

from escalation.schemas import RoutedContact, codec
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import (
    ASSIGNMENTS_TABLE,
    CONTACTS,
    ESCALATIONS,
    LOADS_TABLE,
    ROUTED,
    ROUTER_APP,
)

from .policy.engine import RoutingEngine
from .policy.reload import PolicyHolder
from .state import OwnershipState, issue_key

log = structlog.get_logger(__name__)


class RouterService(StreamService):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, ROUTER_APP, "router", settings.router_port)
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.engine = RoutingEngine(self.holder.current)
        self.state = OwnershipState(
            self.bytes_table(ASSIGNMENTS_TABLE),
            self.bytes_table(LOADS_TABLE),
            settings.kafka_partitions,
        )
        self.app.on_partitions_assigned.connect(self.state.forget_cache)
        self.app.on_partitions_revoked.connect(self.state.forget_cache)
        self.routed = Counter(
            "escalation_routed_total",
            "Contacts routed, by route and how the owner was chosen.",
            ["route", "choice"],
            registry=self.metrics.registry,
        )
        self.output = self.topic(ROUTED)
        self.consume(self.topic(CONTACTS, ESCALATIONS), "route-contacts", self.handle)
        self.app.service(self._watcher())
        log.info(
            "router.policy_loaded",
            source=self.holder.current.source,
            version=self.holder.current.version,
        )

    def _watcher(self) -> object:
        import mode

        holder = self.holder

        class PolicyWatcher(mode.Service):
            async def on_start(self) -> None:
                self._stop = asyncio.Event()
                self.add_future(holder.watch(self._stop))

            async def on_stop(self) -> None:
                self._stop.set()

        return PolicyWatcher()

    def _current_engine(self) -> RoutingEngine:
        if self.engine.loaded is not self.holder.current:
            self.engine = RoutingEngine(self.holder.current)
        return self.engine

    async def handle(self, event: EventT) -> None:
        if event.message.topic == ESCALATIONS:
            self._on_escalation(event)
            return
        contact = codec.decode_contact(event.message.value)
        engine = self._current_engine()
        self.state.release_after = engine.release_after
        key = issue_key(contact.customer.id, contact.issue_id)
        decision = engine.decide(contact, datetime.now(UTC), self.state.assignment(key), self.state)
        routed = RoutedContact.model_construct(**dict(contact), routing=decision.routing)
        await self.output.send(
            key=contact.customer.id.encode(),
            value=codec.encode(routed),
            headers=[("event-id", contact.event_id.encode())],
        )
        self.metrics.produced.labels(ROUTED).inc()
        if decision.duplicate:
            self.metrics.duplicates.labels(CONTACTS).inc()
            return
        partition = event.message.partition
        if decision.released_from is not None:
            self.state.release(decision.released_from, partition, contact.issue_id)
        self.state.hold(decision.assignment.owner, partition, contact.issue_id, decision.assignment)
        self.state.save(key, decision.assignment)
        routing = decision.routing
        choice = (
            "fallback"
            if routing.fallback
            else "sticky"
            if routing.sticky
            else "reassigned"
            if routing.reassigned_from
            else "chosen"
        )
        self.routed.labels(routing.route, choice).inc()

    def _on_escalation(self, event: EventT) -> None:
        record = codec.decode_escalation(event.message.value)
        if record.type != "resolved":
            return
        key = issue_key(record.customer_id, record.issue_id)
        current = self.state.assignment(key)
        if current is None or not current.open:
            return
        self.state.release(current.owner, event.message.partition, record.issue_id)
        self.state.save(key, current.model_copy(update={"open": False}))


def build(settings: Settings) -> RouterService:
    return RouterService(settings)
