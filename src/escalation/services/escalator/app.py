"""Escalator service: routed contacts and commands -> issue table -> escalations and pages.

One agent reads both ``contacts.routed.v1`` and ``escalation.commands.v1``: both are keyed
by customer id and co-partitioned, so the issue a command names lives in the partition
(and the table shard) the agent already holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from faust.types import EventT
from prometheus_client import Counter

from escalation.schemas import PageRequest, Routing, codec, issue_state_key, parse_escalation_id
from escalation.schemas.page import ROUTING_REASONS_SHOWN
from escalation.schemas.state import IssueState
from escalation.services.common import crashpoints
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import (
    COMMANDS,
    ESCALATIONS,
    ESCALATOR_APP,
    ISSUES_TABLE,
    PAGES,
    ROUTED,
)

from .rules import Decision, decide_command, decide_contact

log = structlog.get_logger(__name__)


class EscalatorService(StreamService):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, ESCALATOR_APP, "escalator", settings.escalator_port)
        self.issues = self.bytes_table(ISSUES_TABLE)
        self.outcomes = Counter(
            "escalation_escalator_outcomes_total",
            "What each input did to its issue.",
            ["input", "outcome"],
            registry=self.metrics.registry,
        )
        self.escalation_events = Counter(
            "escalation_lifecycle_events_total",
            "Escalation lifecycle events emitted.",
            ["type"],
            registry=self.metrics.registry,
        )
        self.inputs = self.topic(ROUTED, COMMANDS)
        self.escalations_out = self.topic(ESCALATIONS)
        self.pages_out = self.topic(PAGES)
        self.consume(self.inputs, "escalate", self.handle)

    async def handle(self, event: EventT) -> None:
        now = datetime.now(UTC)
        if event.message.topic == COMMANDS:
            command = codec.decode_command(event.message.value)
            ref = parse_escalation_id(command.escalation_id)
            key = issue_state_key(ref.customer_id, ref.issue_id)
            decision = decide_command(self._load(key), command, now)
            kind = "command"
        else:
            routed = codec.decode_routed(event.message.value)
            key = issue_state_key(routed.customer.id, routed.issue_id)
            decision = decide_contact(self._load(key), routed, routed.routing, now)
            decision.pages = [with_routing(p, routed.routing) for p in decision.pages]
            kind = "contact"
        self.outcomes.labels(kind, decision.outcome).inc()
        if decision.outcome == "duplicate":
            self.metrics.duplicates.labels(event.message.topic).inc()
            return
        await self._emit(decision)
        crashpoints.crash_point("escalator.after_emit", when=bool(decision.pages))
        # State is written after the effects are acknowledged: a crash in between replays
        # the input, which yields the same ids, and the pager drops the copy.
        if decision.state is not None:
            self.issues[key] = codec.encode(decision.state)

    def _load(self, key: bytes) -> IssueState | None:
        raw = self.issues.get(key)
        try:
            return codec.decode_state(raw) if raw else None
        except codec.DecodeError as exc:
            # Our own state, not the message, is unreadable: a bug, not a bad message.
            raise RuntimeError(f"issue state {key!r} does not decode: {exc.detail}") from exc

    async def _emit(self, decision: Decision) -> None:
        pending = []
        for record in decision.escalations:
            if record.type == "paged":
                continue  # the pager writes it once a target took the page (outcomes.py)
            pending.append(
                await self.escalations_out.send(
                    key=record.customer_id.encode(),
                    value=codec.encode(record),
                    headers=[
                        (
                            "event-id",
                            f"{record.escalation_id}:{record.type}:{record.cause_id}".encode(),
                        )
                    ],
                )
            )
            self.escalation_events.labels(record.type).inc()
            log.info(
                "escalation.event",
                type=record.type,
                escalation_id=record.escalation_id,
                reason=record.reason,
                owner=record.owner,
            )
        for page in decision.pages:
            pending.append(
                await self.pages_out.send(
                    key=page.customer_id.encode(),
                    value=codec.encode(page),
                    headers=[("event-id", page.page_id.encode())],
                )
            )
        for future in pending:
            await future
        self.metrics.produced.labels(ESCALATIONS).inc(len(decision.escalations))
        self.metrics.produced.labels(PAGES).inc(len(decision.pages))


def with_routing(page: PageRequest, routing: Routing) -> PageRequest:
    """A page made by a contact says why its owner was chosen (the receivers show it)."""
    reasons = [reason[:1024] for reason in routing.reasons[-ROUTING_REASONS_SHOWN:]]
    return page.model_copy(update={"route": routing.route, "routing_reasons": reasons})


def build(settings: Settings) -> EscalatorService:
    return EscalatorService(settings)
