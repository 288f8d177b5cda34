"""Base of the faust services: one app, raw topics, health pages, and fault handling.

Every topic is read with ``value_serializer="raw"``: bytes reach our code, and
``schemas.codec`` decodes them, so a value faust could not decode never kills an agent.

What keeps a message's offset from being committed (read in faust-streaming 0.15): the
consumer commits, per partition, only the contiguous run of *acked* offsets
(``Consumer._new_offset``), and a message is acked in the ``finally`` of
``Stream.__aiter__`` once the agent's loop body returns, raises or is cancelled, since
the abandoned stream generator is finalized. So an agent that raises acks its message,
and the next periodic commit (or the one ``Consumer.on_stop`` makes at shutdown) stores
it: raising is never a way to say "read this again". Two things hold a message back:

- ``hold_uncommitted``: marking the faust message ``acked`` before the stream's
  ``finally`` runs makes ``Message.ack`` return early, so ``Consumer.ack`` never records
  the offset; every later offset of the partition stays uncommitted behind the gap, and
  the restarted worker reads from there again (idempotent handlers make that safe).
- ``os._exit``: no ``finally``, no ``on_stop`` commit. A dependency that stays down past
  the retries (``faults.RetryPolicy``) ends the process this way, with exit code 75,
  after the message is held; the supervisor (or Kubernetes) restarts it.

A service that reads in batches (``consume_batches``, the escalator) iterates
``stream.noack_take``: faust acks nothing there, and ``guarded_batch`` acks each message
of a batch, in order (``ack_in_order``: faust's ``Stream.ack`` without a coroutine per
message), only once its handler returned, which it does only after every
write of the batch was acknowledged (``batches.py``). Its handler dead-letters each
message's own fault itself; a dependency past the retries, a cancellation or a failure
of the handler as a whole holds the whole batch uncommitted (the first and last also
end the process, as above).

A cancelled handler (the worker stopping while it runs) holds its message too, so a
SIGTERM mid-message never commits a message whose effects were cut short. faust does
not cancel a shared (non-isolated) agent on a rebalance (``AgentManager.on_rebalance``
reaches only isolated ones); were it ever to, the held partition would commit nothing
more until the worker restarts and reads it again: late, never lost.

Table recovery is faust's: table values here are bytes, so recovery never decodes them
and cannot stop on an unreadable record; a value our code cannot read surfaces when a
message touches its key, as a ``bug`` dead letter of that message. faust writes table
changes through its producer and flushes it before each commit, but a flush waits for a
failed write without reporting it: were a table write to fail while the commit succeeds
(a partial outage: the changelog's leader gone, the group coordinator up), that key's
change would be lost. A full outage fails the commit too, and the handler's own sends
fail first, which ends the process uncommitted.

Liveness is not readiness: the health pages are served by our own HTTP server, started
before faust's producer and consumer, and the app waits for the broker to answer
instead of exiting, so ``/healthz`` answers from the start and ``/readyz`` says why not.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import faust
import mode
import structlog
from aiokafka import AIOKafkaProducer
from faust.types import EventT

from escalation.schemas import codec

from .batches import Outgoing
from .broker import topics_present, until_broker_answers
from .broker_probe import BrokerWatch, metadata_probe
from .dlq import dead_letter_headers
from .faults import DependencyFailed, RetryPolicy, exit_for_restart, handle_message
from .faust_monitor import PrometheusMonitor
from .http import HttpApp, Request, Response, serve
from .metrics import ServiceMetrics, observe_many
from .raw_schema import RawSchema
from .settings import Settings
from .topics import catalogue, dlq_of

log = structlog.get_logger(__name__)

Handler = Callable[[EventT], Awaitable[None]]
BatchHandler = Callable[[list[EventT]], Awaitable[None]]
ReadyCheck = Callable[[], str | None]
"""Returns None when ready, else why not."""


def header_map(event: EventT) -> dict[str, bytes]:
    headers = event.headers or {}
    items: Iterable[tuple[str, Any]] = headers.items() if isinstance(headers, dict) else headers
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


def hold_uncommitted(event: EventT) -> None:
    """Keep faust from ever acking (so committing) this message; see the module docstring."""
    event.message.acked = True


def _hold_all(events: Iterable[EventT]) -> None:
    for event in events:
        hold_uncommitted(event)


def ack_in_order(stream: Any, events: Iterable[EventT]) -> None:
    """``await stream.ack(event)`` for each event in order, without a coroutine each.

    faust's ``Stream.ack`` (0.15) awaits nothing: it acks the message (``Event.ack``,
    which records the offset with the consumer once the last stream let go of it), then
    tells the sensors the event left and, if that was the last ack, that the message
    did. This does the same per event, in the same order, as plain calls. A message
    held uncommitted (``hold_uncommitted``) is already ``acked``, so ``Event.ack``
    records nothing for it, as before.
    """
    event_out = stream._on_stream_event_out
    message_out = stream._on_message_out
    for event in events:
        last = event.ack()
        message = event.message
        event_out(message.tp, message.offset, stream, event)
        if last:
            message_out(message.tp, message.offset, message)


class StreamService:
    """A faust app with the pages and helpers every stream service shares."""

    def __init__(
        self,
        settings: Settings,
        app_id: str,
        service: str,
        web_port: int,
        faust_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.web_port = web_port
        self.metrics = ServiceMetrics(service)
        monitor = PrometheusMonitor(self.metrics.registry)  # faust's sensors, exported
        options = {**settings.faust_options(), **(faust_overrides or {})}
        self.app = faust.App(app_id, monitor=monitor, **options)
        self.metrics.track_lag(monitor.lag)
        self.retry = RetryPolicy(settings.stream_retry_seconds)
        self.exit: Callable[[BaseException], None] = exit_for_restart
        self.ready_checks: list[ReadyCheck] = [self._assigned]
        self.broker_problem: str | None = "broker not reachable yet"
        self._assigned_once = False
        self.app.on_partitions_assigned.connect(self._on_assigned)

    def topic(self, *names: str) -> faust.TopicT:
        return self.app.topic(*names, schema=RawSchema())

    def consume(self, topic: faust.TopicT, name: str, handler: Handler) -> None:
        """Run ``handler`` on every message of ``topic`` in an agent that never raises."""

        async def agent(stream: Any) -> None:
            async for event in stream.events():
                await self.guarded(event, handler)

        self.app.agent(topic, name=name)(agent)

    def bytes_table(self, name: str, **options: Any) -> Any:
        """A changelog-backed table of bytes -> bytes, co-partitioned with the topics."""
        return self.app.Table(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=self.settings.kafka_partitions,
            default=None,
            **options,
        )

    # -- health --------------------------------------------------------------------------

    async def _on_assigned(self, *args: Any, **kwargs: Any) -> None:
        self._assigned_once = True

    def _assigned(self) -> str | None:
        if self.broker_problem is not None:
            return self.broker_problem
        if not self._assigned_once:
            return "consumer group not joined yet"
        if self.app.rebalancing:
            return "rebalancing"
        if self.app.in_recovery:
            return "recovering table state"
        return None

    def readiness(self) -> list[str]:
        return [why for check in self.ready_checks if (why := check()) is not None]

    def http(self) -> HttpApp:
        http = HttpApp(self.metrics, 64 * 1024)

        async def ready() -> list[str]:
            return self.readiness()

        async def healthz(request: Request) -> Response:
            return Response(200, codec.dumps({"status": "ok", "service": self.service}))

        http.ready = ready
        http.route("GET", "/healthz", healthz)
        return http

    def services(self) -> list[mode.Service]:
        """What the worker starts before the app: the health pages, then the broker gate."""
        probe = metadata_probe(self.settings.kafka_common())
        watch = BrokerWatch(probe, self.metrics.broker_up, self.settings.broker_probe_seconds)
        return [_HttpServer(self), watch, _BrokerGate(self)]

    # -- messages ------------------------------------------------------------------------

    def dead_letter_record(self, event: EventT, reason: str, error: BaseException) -> Outgoing:
        """``event`` as its topic's DLQ record, with why; counts and logs it (once)."""
        message = event.message
        headers = dead_letter_headers(
            self.metrics,
            header_map(event),
            message.topic,
            message.partition,
            message.offset,
            reason,
            error,
        )
        return Outgoing(
            dlq_of(message.topic), message.partition, message.key, message.value, headers
        )

    def dead_letter(self, event: EventT) -> Callable[[str, BaseException], Awaitable[None]]:
        """A writer of ``event`` to its topic's DLQ, counted once however often it retries."""
        records: list[Outgoing] = []

        async def write(reason: str, error: BaseException) -> None:
            if not records:
                records.append(self.dead_letter_record(event, reason, error))
            record = records[0]
            sent = await self.topic(record.topic).send(
                key=record.key,
                value=record.value,
                headers=record.headers,
                partition=record.partition,
            )
            await sent  # the broker's ack, not only the hand-over to the producer

        return write

    def kafka_producer(self) -> AIOKafkaProducer:
        """The aiokafka producer under faust's (started with the app): for record batches."""
        return self.app.producer._ensure_producer()

    def consume_batches(
        self, topic: faust.TopicT, name: str, handler: BatchHandler, size: int, within: float
    ) -> None:
        """Run ``handler`` on batches of up to ``size`` messages of ``topic``, acking each
        message only once the handler returned (see ``guarded_batch``)."""

        async def agent(stream: Any) -> None:
            async for events in stream.noack_take(size, within):
                await self.guarded_batch(stream, events, handler)

        self.app.agent(topic, name=name)(agent)

    async def guarded_batch(self, stream: Any, events: list[EventT], handler: BatchHandler) -> None:
        """Run one batch's handler, then ack its messages in order; nothing escapes.

        The handler deals with each message's own fault (DLQ) itself. A dependency that
        stayed down, a cancellation or a failure of the handler itself holds every
        message of the batch uncommitted; the first two are what ``guarded`` does with
        one message, and the last has no message to blame, so it ends the process too.
        """
        topics = Counter(event.message.topic for event in events)
        for topic, count in topics.items():
            self.metrics.consumed.labels(topic).inc(count)
        started = time.perf_counter()
        try:
            await handler(events)
        except asyncio.CancelledError:
            _hold_all(events)
            raise
        except Exception as exc:  # DependencyFailed, or a bug outside any one message
            _hold_all(events)
            if not isinstance(exc, DependencyFailed):
                log.error("batch.handler_failed", exc_info=exc, messages=len(events))
            self.exit(exc)
            return
        share = (time.perf_counter() - started) / max(1, len(events))
        for topic, count in topics.items():  # each message its share of the batch
            observe_many(self.metrics.processing_seconds.labels(topic), share, count)
        ack_in_order(stream, events)

    async def guarded(self, event: EventT, handler: Handler) -> None:
        """Run one message's handler so that nothing escapes the agent loop.

        The message's fault or a bug: DLQ, and the partition moves on. A failed
        dependency: retried in place; past the budget the message is held uncommitted
        and the process exits (see the module docstring).
        """
        message = event.message
        self.metrics.consumed.labels(message.topic).inc()
        started = time.perf_counter()
        try:
            await handle_message(
                lambda: handler(event),
                message.value,
                self.dead_letter(event),
                self.retry,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
        except asyncio.CancelledError:
            hold_uncommitted(event)
            raise
        except DependencyFailed as exc:
            hold_uncommitted(event)
            self.exit(exc)
        finally:
            self.metrics.processing_seconds.labels(message.topic).observe(
                time.perf_counter() - started
            )


class _HttpServer(mode.Service):
    """``/healthz``, ``/readyz`` and ``/metrics``, up before the broker is."""

    def __init__(self, owner: StreamService) -> None:
        super().__init__()
        self.owner = owner
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        owner = self.owner
        self.task = asyncio.ensure_future(
            serve(owner.http(), owner.settings.web_host, owner.web_port, self.stopping)
        )

    async def on_stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class _BrokerGate(mode.Service):
    """Holds the app's start until the broker answers with every topic, instead of exiting."""

    def __init__(self, owner: StreamService) -> None:
        super().__init__()
        self.owner = owner

    async def on_start(self) -> None:
        owner = self.owner
        settings = owner.settings
        names = [spec.name for spec in catalogue(settings.kafka_partitions)]

        def not_yet(error: BaseException) -> None:
            owner.broker_problem = f"broker not reachable yet: {error}"

        await until_broker_answers(
            topics_present(settings.kafka_common(), names),
            asyncio.Event(),  # never set: a stop during the wait cancels this start
            f"{owner.service} startup",
            on_failure=not_yet,
        )
        owner.broker_problem = None
