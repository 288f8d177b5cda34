"""Intake's behaviour, free of any HTTP framework: requests in, (status, headers, body) out.

Every check that can refuse a request runs before the broker sees it, cheapest first:
token, content type, size, the source's rate (before the body is parsed, so a flood
costs no parsing), the schema (the batch's length before its items), the event-time
window, each event's size and source. Only then is anything written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Histogram

from escalation.schemas import ContactEvent, cloudevents, codec
from escalation.schemas.silence import SilenceRecord, SilenceShown
from escalation.services.common.metrics import BoundedLabel, Children, ServiceMetrics
from escalation.services.common.problems import PROBLEM_JSON, Problem
from escalation.services.common.settings import Settings
from escalation.services.common.topics import COMMANDS, CONTACTS

from . import pages
from .admission import Admission, EventWindow
from .auth import TokenAuth
from .commands import Commands
from .dedup import RecentIds
from .linked import LinkGate, html_problem, is_form, wants_html
from .queries import Queries
from .ratelimit import RateLimiter
from .silence_view import SilenceView
from .silences import Silences
from .writer import Record, Writer

log = structlog.get_logger(__name__)
_stdlib_log = logging.getLogger(__name__)

JSON = "application/json"
OPEN_BUCKET = "(open)"
"""The rate bucket every caller shares when no tokens are configured (loopback only)."""
OPEN_SOURCE = "open"
"""The ``source`` label of requests made without a token (tokens not configured)."""
UNKNOWN_SOURCE = "unauthenticated"
"""The ``source`` label of a request whose token was missing or wrong."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


def problem_reply(problem: Problem, instance: str | None = None) -> Reply:
    return Reply(problem.status, problem.body(instance), problem.headers, PROBLEM_JSON)


def html_reply(status: int, page: bytes, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, page, {**(headers or {}), **pages.HEADERS}, pages.HTML)


class Intake:
    def __init__(
        self,
        settings: Settings,
        producer: AIOKafkaProducer,
        metrics: ServiceMetrics,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.metrics = metrics
        self.clock = clock
        self.writer = Writer(producer, settings.intake_broker_deadline_seconds)
        self.admission = Admission(
            EventWindow(settings.intake_max_event_age, settings.intake_max_clock_skew),
            settings.intake_max_event_bytes,
        )
        self.auth = TokenAuth(settings.token_grants())
        gate = LinkGate(settings.link_key_values(), settings.intake_public_url)
        self.commands = Commands(self.auth, gate, self.writer, clock, require_json)
        self.queries = Queries(self.auth, settings.escalator_query_url)
        self.silence_view = SilenceView()
        self.silences = Silences(self.auth, self.writer, self.silence_view, clock, require_json)
        self.recent = RecentIds(settings.intake_dedup_window)
        self.limiter = RateLimiter(
            settings.intake_rate_per_source, settings.intake_burst_per_source
        )
        registry = metrics.registry
        self.requests = Counter(
            "escalation_intake_requests_total",
            "HTTP requests by endpoint (the route), status and source (the token's name; "
            "open without tokens; link or token for commands).",
            ["endpoint", "status", "source"],
            registry=registry,
        )
        self.events = Counter(
            "escalation_intake_events_total",
            "Contact events by source and result: accepted, duplicate (an event_id already "
            "written), rejected (a refused request, counted once however many it held).",
            ["source", "result"],
            registry=registry,
        )
        self.sources = BoundedLabel()
        self.request_count = Children(self.requests)
        self.event_count = Children(self.events)
        self.produced = Children(metrics.produced)
        self.ack_seconds = Histogram(
            "escalation_intake_broker_ack_seconds",
            "From produce to broker acknowledgement.",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    @property
    def connected(self) -> bool:
        return self.writer.connected

    @connected.setter
    def connected(self, value: bool) -> None:
        self.writer.connected = value

    # -- contacts ---------------------------------------------------------------------

    async def post_contacts(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """One canonical log line per request: INFO when refused, DEBUG when written."""
        started = time.perf_counter()
        source = UNKNOWN_SOURCE
        try:
            token_source = self.auth.source_of(headers.get("authorization"))
            source = self.sources(token_source or OPEN_SOURCE)
            reply = await self._contacts(token_source, headers, body)
        except Problem as problem:
            reply = problem_reply(problem, "/v1/contacts")
            self.event_count(source, "rejected").inc()
        self.request_count("contacts", str(reply.status), source).inc()
        level = logging.INFO if reply.status >= 400 else logging.DEBUG
        if _stdlib_log.isEnabledFor(level):  # a DEBUG line is built only when written
            log.log(
                level,
                "intake.contacts",
                status=reply.status,
                source=source,
                bytes=len(body),
                seconds=round(time.perf_counter() - started, 4),
            )
        return reply

    async def _contacts(
        self, token_source: str | None, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        require_json(headers)
        if len(body) > self.settings.intake_max_body_bytes:
            raise Problem(
                413,
                "body-too-large",
                f"body is {len(body)} bytes; the limit is {self.settings.intake_max_body_bytes}",
            )
        bucket = token_source or OPEN_BUCKET
        self._take(bucket, 1)  # before parsing: every request costs at least one event
        events = self._decode(body, media_type(headers))
        encoded = self.admission.admit(events, token_source, codec.is_batch(body), self.clock())
        if len(events) > 1:
            self._take(bucket, len(events) - 1)
        accepted, duplicates = await self._publish(events, encoded)
        return Reply(202, codec.dumps({"accepted": accepted, "duplicates": duplicates}))

    def _take(self, bucket: str, cost: int) -> None:
        wait = self.limiter.take(bucket, cost)
        if wait:
            retry = "60" if wait == float("inf") else str(max(1, int(wait + 0.999)))
            who = "unauthenticated callers" if bucket == OPEN_BUCKET else f"source {bucket!r}"
            raise Problem(
                429,
                "rate-limited",
                f"{who} over the rate of {self.settings.intake_rate_per_source:g} events/s "
                f"(burst {self.settings.intake_burst_per_source:g})",
                headers={"retry-after": retry},
            )

    def _decode(self, body: bytes, media: str) -> list[ContactEvent]:
        limit = self.settings.intake_max_batch
        try:
            if media in (cloudevents.STRUCTURED, cloudevents.BATCH):
                return codec.decode_cloudevents(body, media == cloudevents.BATCH, limit)
            return codec.decode_contacts(body, limit)
        except codec.DecodeError as exc:
            if exc.kind == "malformed":
                raise Problem(400, "malformed-json", exc.detail) from exc
            if exc.kind == "too_many":
                raise Problem(413, "batch-too-large", exc.detail) from exc
            raise Problem(
                422, "schema-violation", exc.detail, exc.errors, error_count=exc.error_count
            ) from exc

    async def _publish(
        self, events: list[ContactEvent], encoded: list[bytes]
    ) -> tuple[list[str], list[str]]:
        fresh: list[ContactEvent] = []
        records: list[Record] = []
        duplicates: list[str] = []
        in_batch: set[str] = set()
        for event, value in zip(events, encoded, strict=True):
            if event.event_id in self.recent or event.event_id in in_batch:
                duplicates.append(event.event_id)
                self.event_count(self.sources(event.source), "duplicate").inc()
            else:
                in_batch.add(event.event_id)
                fresh.append(event)
                records.append(Record(CONTACTS, event.customer.id.encode(), value, event.event_id))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.writer.write(records, on_written=self._written_late)
        self.ack_seconds.observe(loop.time() - started)
        for event in fresh:
            self.recent.add(event.event_id)
            self.event_count(self.sources(event.source), "accepted").inc()
        self.produced(CONTACTS).inc(len(fresh))
        return [e.event_id for e in fresh], duplicates

    def _written_late(self, event_id: str) -> None:
        """A write answered with 503 landed after all: its retry is a duplicate."""
        self.recent.add(event_id)
        log.info("intake.acknowledged_late", event_id=event_id)

    # -- commands ---------------------------------------------------------------------

    async def post_command(
        self, escalation_id: str, action: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """A command by bearer token (JSON), or by a signed link's form (the confirm page)."""
        instance = f"/v1/escalations/{escalation_id}/{action}"
        form = is_form(headers)
        html = form and wants_html(headers)
        try:
            done = None
            if form:
                claim, command = await self.commands.by_link(escalation_id, action, headers, body)
                done = pages.done(claim, command.command_id)
            else:
                command = await self.commands.by_token(escalation_id, action, headers, body)
            self.metrics.produced.labels(COMMANDS).inc()
            accepted = {"command_id": command.command_id, "escalation_id": escalation_id}
            reply = (
                html_reply(202, done)
                if html and done is not None
                else Reply(202, codec.dumps({**accepted, "action": action}))
            )
        except Problem as problem:
            reply = (
                html_reply(problem.status, html_problem(problem), problem.headers)
                if html
                else problem_reply(problem, instance)
            )
        endpoint = f"{action}-link" if form else action
        self.requests.labels(endpoint, str(reply.status), "link" if form else "token").inc()
        log.log(
            logging.INFO if reply.status < 500 else logging.WARNING,
            "intake.command",
            action=action,
            status=reply.status,
            escalation_id=escalation_id,
            by_link=form,
        )
        return reply

    async def link_page(self, escalation_id: str, action: str, query: str) -> Reply:
        """``GET`` of a signed link: the confirm page, or why the link does nothing (403)."""
        try:
            reply = html_reply(200, self.commands.confirm_page(escalation_id, action, query))
        except Problem as problem:
            reply = html_reply(problem.status, html_problem(problem))
        self.requests.labels(f"{action}-page", str(reply.status), "link").inc()
        return reply

    # -- queries ----------------------------------------------------------------------

    async def get_escalations(
        self, path: str, query: str, headers: Mapping[str, str], escalation_id: str | None
    ) -> Reply:
        """The escalator's answer about one escalation, or a customer's (``customer_id=``)."""
        try:
            status, body, content_type, extra = await self.queries.get(
                path, query, headers, escalation_id
            )
            reply = Reply(status, body, extra, content_type)
        except Problem as problem:
            reply = problem_reply(problem, path)
        endpoint = "escalation" if escalation_id is not None else "escalations"
        self.requests.labels(endpoint, str(reply.status), "token").inc()
        return reply

    # -- silences ---------------------------------------------------------------------

    async def post_silence(self, headers: Mapping[str, str], body: bytes) -> Reply:
        try:
            record = await self.silences.create(headers, body)
            reply = Reply(
                201, codec.encode(record.silence), {"location": f"/v1/silences/{record.id}"}
            )
        except Problem as problem:
            reply = problem_reply(problem, "/v1/silences")
        self.requests.labels("silences", str(reply.status), "token").inc()
        return reply

    async def get_silences(self, headers: Mapping[str, str], query: str) -> Reply:
        try:
            listed = [record_view(r) for r in self.silences.list(headers, query)]
            reply = Reply(200, codec.dumps({"silences": listed}))
        except Problem as problem:
            reply = problem_reply(problem, "/v1/silences")
        self.requests.labels("silences", str(reply.status), "token").inc()
        return reply

    async def delete_silence(self, silence_id: str, headers: Mapping[str, str]) -> Reply:
        try:
            record = await self.silences.expire(silence_id, headers)
            reply = Reply(200, codec.dumps(record_view(record)))
        except Problem as problem:
            reply = problem_reply(problem, f"/v1/silences/{silence_id}")
        self.requests.labels("silence", str(reply.status), "token").inc()
        return reply

    # -- health -----------------------------------------------------------------------

    async def readiness(self) -> list[str]:
        """Ready once connected and while the broker answers metadata requests."""
        if not self.connected:
            return ["not connected to the event log yet"]
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2.0)
        except (TimeoutError, KafkaError) as exc:
            return [f"broker unreachable: {exc!r}"]
        return []


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def require_json(headers: Mapping[str, str]) -> None:
    content_type = media_type(headers)
    if content_type != JSON and not content_type.endswith("+json"):
        raise Problem(
            415,
            "unsupported-media-type",
            f"content type {content_type or '(none)'!r}; send application/json",
        )


def record_view(record: SilenceRecord) -> dict[str, object]:
    """A silence as the API shows it: its fields, and whether it was expired and by whom."""
    shown = SilenceShown(
        **record.silence.model_dump(), expired=not record.active, expired_by=record.expired_by
    )
    return codec.loads_plain(codec.encode(shown))
