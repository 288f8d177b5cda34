"""Router service: contacts.v1 -> route under policy -> contacts.routed.v1."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from faust.types import EventT
from prometheus_client import Counter

from escalation.schemas import RoutedContact, codec
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import CONTACTS, ROUTED, ROUTER_APP

from .policy import LoadedPolicy, load_policy, route_contact

log = structlog.get_logger(__name__)


class RouterService(StreamService):
    def __init__(self, settings: Settings, policy: LoadedPolicy | None = None) -> None:
        super().__init__(settings, ROUTER_APP, "router", settings.router_port)
        self.policy = policy or load_policy(settings.policy)
        self.routed = Counter(
            "escalation_routed_total",
            "Contacts routed, by route and whether it fell back.",
            ["route", "fallback"],
            registry=self.metrics.registry,
        )
        self.contacts = self.topic(CONTACTS)
        self.output = self.topic(ROUTED)
        self.consume(self.contacts, "route-contacts", self.handle)
        log.info("router.policy_loaded", source=self.policy.source, version=self.policy.version)

    async def handle(self, event: EventT) -> None:
        contact = codec.decode_contact(event.message.value)
        routing = route_contact(self.policy, contact, datetime.now(UTC))
        # Both parts are validated already; construct without validating them again.
        routed = RoutedContact.model_construct(**dict(contact), routing=routing)
        await self.output.send(
            key=contact.customer.id.encode(),
            value=codec.encode(routed),
            headers=[("event-id", contact.event_id.encode())],
        )
        self.metrics.produced.labels(ROUTED).inc()
        self.routed.labels(routing.route, str(routing.fallback).lower()).inc()


def build(settings: Settings) -> RouterService:
    return RouterService(settings)
