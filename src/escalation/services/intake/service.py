"""Intake's behaviour, free of any HTTP framework: requests in, (status, headers, body) out."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Histogram

from escalation.schemas import ContactEvent, EscalationCommand, codec
from escalation.schemas.identity import InvalidEscalationId, customer_of
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.problems import PROBLEM_JSON, Problem
from escalation.services.common.settings import Settings
from escalation.services.common.topics import COMMANDS, CONTACTS

from .auth import TokenAuth
from .dedup import RecentIds
from .ratelimit import RateLimiter

log = structlog.get_logger(__name__)

JSON = "application/json"
BROKER_RETRY_AFTER = "5"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


def problem_reply(problem: Problem, instance: str | None = None) -> Reply:
    return Reply(problem.status, problem.body(instance), problem.headers, PROBLEM_JSON)


class Intake:
    def __init__(
        self, settings: Settings, producer: AIOKafkaProducer, metrics: ServiceMetrics
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.metrics = metrics
        self.auth = TokenAuth(settings.intake_tokens)
        self.recent = RecentIds(settings.intake_dedup_window)
        self.limiter = RateLimiter(
            settings.intake_rate_per_source, settings.intake_burst_per_source
        )
        registry = metrics.registry
        self.requests = Counter(
            "escalation_intake_requests_total",
            "HTTP requests by outcome.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.events = Counter(
            "escalation_intake_events_total",
            "Contact events by result.",
            ["source", "result"],
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "escalation_intake_broker_ack_seconds",
            "From produce to broker acknowledgement.",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    # -- contacts ---------------------------------------------------------------------

    async def post_contacts(self, headers: Mapping[str, str], body: bytes) -> Reply:
        try:
            reply = await self._contacts(headers, body)
        except Problem as problem:
            reply = problem_reply(problem, "/v1/contacts")
        self.requests.labels("contacts", str(reply.status)).inc()
        return reply

    async def _contacts(self, headers: Mapping[str, str], body: bytes) -> Reply:
        token_source = self.auth.source_of(headers.get("authorization"))
        require_json(headers)
        if len(body) > self.settings.intake_max_body_bytes:
            raise Problem(
                413,
                "body-too-large",
                f"body is {len(body)} bytes; the limit is {self.settings.intake_max_body_bytes}",
            )
        try:
            events = codec.decode_contacts(body)
        except codec.DecodeError as exc:
            status = 400 if exc.kind == "malformed" else 422
            raise Problem(
                status,
                "malformed-json" if status == 400 else "schema-violation",
                exc.detail,
                exc.errors if status == 422 else None,
            ) from exc
        encoded = self._check_batch(events, token_source)
        source = token_source or events[0].source
        wait = self.limiter.take(source, len(events))
        if wait:
            retry = "60" if wait == float("inf") else str(max(1, int(wait + 0.999)))
            raise Problem(
                429,
                "rate-limited",
                f"source {source!r} is over its rate of "
                f"{self.settings.intake_rate_per_source:g} events/s",
                headers={"retry-after": retry},
            )
        accepted, duplicates = await self._publish(events, encoded)
        return Reply(202, codec.dumps({"accepted": accepted, "duplicates": duplicates}))

    def _check_batch(self, events: list[ContactEvent], token_source: str | None) -> list[bytes]:
        """Refuse a batch over a limit or claiming a foreign source; return each event's bytes."""
        limit = self.settings.intake_max_batch
        if len(events) > limit:
            raise Problem(
                413, "batch-too-large", f"batch has {len(events)} events; the limit is {limit}"
            )
        if not events:
            raise Problem(
                422,
                "schema-violation",
                "the batch is empty",
                [{"loc": [], "msg": "at least one event is required"}],
            )
        encoded = [codec.encode(e) for e in events]
        too_big = [
            {
                "loc": [i],
                "msg": f"event is {len(value)} bytes; the limit is "
                f"{self.settings.intake_max_event_bytes}",
            }
            for i, value in enumerate(encoded)
            if len(value) > self.settings.intake_max_event_bytes
        ]
        if too_big:
            raise Problem(
                413, "event-too-large", f"{len(too_big)} event(s) over the per-event limit", too_big
            )
        if token_source is not None:
            foreign = [
                {
                    "loc": [i, "source"] if len(events) > 1 else ["source"],
                    "msg": f"token is for source {token_source!r}, not {e.source!r}",
                }
                for i, e in enumerate(events)
                if e.source != token_source
            ]
            if foreign:
                raise Problem(
                    403, "wrong-source", "events claim a source this token is not for", foreign
                )
        return encoded

    async def _publish(
        self, events: list[ContactEvent], encoded: list[bytes]
    ) -> tuple[list[str], list[str]]:
        fresh: list[tuple[ContactEvent, bytes]] = []
        duplicates: list[str] = []
        in_batch: set[str] = set()
        for event, value in zip(events, encoded, strict=True):
            if event.event_id in self.recent or event.event_id in in_batch:
                duplicates.append(event.event_id)
                self.events.labels(event.source, "duplicate").inc()
            else:
                in_batch.add(event.event_id)
                fresh.append((event, value))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            futures = [
                await self.producer.send(
                    CONTACTS,
                    value,
                    key=e.customer.id.encode(),
                    headers=[("event-id", e.event_id.encode())],
                )
                for e, value in fresh
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            log.warning("intake.broker_unavailable", error=repr(exc))
            raise Problem(
                503,
                "broker-unavailable",
                "the event log did not acknowledge the "
                "write; nothing is lost by retrying the same request",
                headers={"retry-after": BROKER_RETRY_AFTER},
            ) from exc
        self.ack_seconds.observe(loop.time() - started)
        for event, _ in fresh:
            self.recent.add(event.event_id)
            self.events.labels(event.source, "accepted").inc()
        self.metrics.produced.labels(CONTACTS).inc(len(fresh))
        return [e.event_id for e, _ in fresh], duplicates

    # -- commands ---------------------------------------------------------------------

    async def post_command(
        self, escalation_id: str, action: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        instance = f"/v1/escalations/{escalation_id}/{action}"
        try:
            self.auth.source_of(headers.get("authorization"))
            if body.strip():
                require_json(headers)
            try:
                customer_id = customer_of(escalation_id)
            except InvalidEscalationId as exc:
                raise Problem(404, "unknown-escalation", str(exc)) from exc
            try:
                parsed = codec.decode_command_body(body)
            except codec.DecodeError as exc:
                status = 400 if exc.kind == "malformed" else 422
                slug = "malformed-json" if status == 400 else "schema-violation"
                raise Problem(status, slug, exc.detail, exc.errors or None) from exc
            command = EscalationCommand(
                command_id=f"cmd_{secrets.token_hex(12)}",
                action=action,
                escalation_id=escalation_id,
                customer_id=customer_id,
                at=datetime.now(UTC),
                by=parsed.by,
                note=parsed.note,
                eta=parsed.eta,
            )
            try:
                await (
                    await self.producer.send(
                        COMMANDS,
                        codec.encode(command),
                        key=customer_id.encode(),
                        headers=[("event-id", command.command_id.encode())],
                    )
                )
            except KafkaError as exc:
                raise Problem(
                    503,
                    "broker-unavailable",
                    "the command was not written; retry",
                    headers={"retry-after": BROKER_RETRY_AFTER},
                ) from exc
            self.metrics.produced.labels(COMMANDS).inc()
            reply = Reply(
                202,
                codec.dumps(
                    {
                        "command_id": command.command_id,
                        "escalation_id": escalation_id,
                        "action": action,
                    }
                ),
            )
        except Problem as problem:
            reply = problem_reply(problem, instance)
        self.requests.labels(action, str(reply.status)).inc()
        return reply

    # -- health -----------------------------------------------------------------------

    async def readiness(self) -> list[str]:
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2.0)
        except (TimeoutError, KafkaError) as exc:
            return [f"broker unreachable: {exc!r}"]
        return []


def require_json(headers: Mapping[str, str]) -> None:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON and not content_type.endswith("+json"):
        raise Problem(
            415,
            "unsupported-media-type",
            f"content type {content_type or '(none)'!r}; send application/json",
        )
