"""Router service: one empowered owner for every contact, under the policy.

getmany -> decide -> send -> write state -> commit, without faust's per-event machinery
(measured 60-90x faster than the faust agent it replaced; docs/decisions.md): one
aiokafka consumer (group ``escalation-router``, manual
commits) reads contacts.v1 and escalations.v1; each ``getmany`` batch is decided with
the in-memory state of its partitions, the routed records, dead letters and the changed
state keys (``escalation-router-changelog``, same partition number as the
input) are sent, and only once the broker acknowledged all of them may the batch's
offsets be committed (at most every 100 ms: ``commits.py``). A crash replays the
batches since the last commit; seen event ids and
per-(owner, partition) issue sets make that replay change nothing but the output, which
downstream dedups by event id.

Partitions are assigned with the range assignor, so a worker holds the same partition
numbers of both inputs (co-partitioned by customer id), and each assigned partition's
state is rebuilt from its changelog before any of its records is processed.

Faults (services/common/faults.py): a record that does not decode or validate goes to
the DLQ (``decode``, ``schema``), as does one the decision code raised on (``bug``);
a write the broker does not acknowledge is sent again with backoff, and past the retry
budget the process exits (code 75) without committing, so the batch is read again
after the restart. A failed state recovery is retried the same way; until it succeeds
``/readyz`` names the partitions not recovered.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.partitioner import DefaultPartitioner

from escalation.policy.engine import RoutingEngine
from escalation.policy.reload import Derived, PolicyHolder
from escalation.schemas import ContactEvent, Routing, codec, issue_state_key
from escalation.services.common import crashpoints
from escalation.services.common.broker import topics_present, until_broker_answers
from escalation.services.common.broker_probe import metadata_probe, watch_broker
from escalation.services.common.changelog_store import ChangelogStore
from escalation.services.common.dlq import dead_letter_headers
from escalation.services.common.faults import (
    DependencyFailed,
    RetryPolicy,
    classify,
    retrying,
)
from escalation.services.common.http import HttpApp, serve
from escalation.services.common.logging import bound
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.outbox import Outbox
from escalation.services.common.settings import Settings
from escalation.services.common.topics import (
    CONTACTS,
    ESCALATIONS,
    ROUTED,
    ROUTER_APP,
    ROUTER_CHANGELOG,
    catalogue,
    dlq_of,
)

from .commits import Commits
from .metrics import RouterMetrics
from .ownership import Ownership, decode_assignment, encode_assignment
from .skim import may_resolve

log = structlog.get_logger(__name__)

ROUTER_MAX_RECORDS = 2000
"""Records decided per batch at most (one flush and one commit per batch)."""
ROUTER_LINGER_SECONDS = 0.01
"""How long a small batch waits for more before it is decided. At 1,000 contacts/s a
fetch returned about three records, and each batch cost a flush and a commit (two
broker round trips, the broker's work for both): the router's CPU per contact fell
from 293-299 us to 220-225 us with 10 ms (187 us with 20 ms), for 10 ms more on the
router's hop when traffic is light."""
ROUTER_LINGER_BELOW = 200
"""Batches of this many records or more are decided at once (a backlog needs no wait)."""
ROUTER_FETCH_BYTES = 4 * 1024 * 1024
"""aiokafka fetches a partition again only once its buffer is drained: a larger fetch
keeps the loop deciding instead of waiting on the next round trip."""
ROUTER_BATCH_BYTES = 512 * 1024
"""Producer record batch size, under Kafka's default 1 MB message.max.bytes."""


def router_producer_options(settings: Settings) -> dict[str, Any]:
    """The profile's producer, with no linger: the Outbox hands over whole batches, and a
    linger would only delay the flush the loop awaits before it commits (measured: the
    raw loop of bench/baseline.py 25-70 % faster at 0 ms than at 1 ms)."""
    options = settings.producer_options()
    return {**options, "linger_ms": 0, "max_batch_size": ROUTER_BATCH_BYTES}


def routed_bytes(contact: ContactEvent, routing: Routing) -> bytes:
    """``codec.encode(RoutedContact(**contact, routing=routing))`` without building the model.

    RoutedContact is the contact's fields followed by ``routing``, so the JSON is the
    contact's with one member appended (a unit test holds the two equal).
    """
    return codec.encode(contact)[:-1] + b',"routing":' + codec.encode(routing) + b"}"


class Router:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics("router")
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.engines = Derived(self.holder, RoutingEngine)
        self.store = ChangelogStore(
            settings,
            ROUTER_CHANGELOG,
            encode_assignment,
            decode_assignment,
            self.metrics.registry,
        )
        self.retry = RetryPolicy(settings.stream_retry_seconds)
        self.failed: BaseException | None = None
        self.stopping = asyncio.Event()
        self.recovery_problem: str | None = None
        self.broker_problem: str | None = "broker not reachable yet"
        self.state = Ownership(self.store)
        self.routing = RouterMetrics(self.metrics.registry)
        self.partitioner = DefaultPartitioner()
        self.routed_partitions: list[int] = []
        self.lock = asyncio.Lock()
        self.rebalancing = True
        self.debug = False
        self._last_sweep = 0.0
        self.consumer = AIOKafkaConsumer(
            **settings.consumer_options(ROUTER_APP),
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_partition_fetch_bytes=ROUTER_FETCH_BYTES,
        )
        self.producer = AIOKafkaProducer(**router_producer_options(settings))
        self.metrics.track_lag(lambda: self.routing.lag(self.consumer))
        self.commits = Commits(
            lambda offsets: self.consumer.commit(offsets),
            settings.kafka_request_timeout_seconds,
            self.routing.commit,
        )
        single = {ROUTER_CHANGELOG} if settings.single_record_batches else set()
        self.single_record_topics = frozenset(single)

    # -- health --------------------------------------------------------------------------

    async def readiness(self) -> list[str]:
        if self.broker_problem is not None:
            return [self.broker_problem]
        if self.recovery_problem:
            return [self.recovery_problem]
        if self.rebalancing:
            return ["consumer group rebalancing or not joined yet"]
        missing = {tp.partition for tp in self.consumer.assignment()} - set(self.store.partitions)
        return [f"state of partitions {sorted(missing)} not recovered"] if missing else []

    def http(self) -> HttpApp:
        http = HttpApp(self.metrics, 64 * 1024)
        http.ready = self.readiness
        return http

    # -- assignment ----------------------------------------------------------------------

    async def on_revoked(self, revoked: Any) -> None:
        self.rebalancing = True
        async with self.lock:  # the batch in flight is written first
            await self.commits.commit()
            self.commits.drop(revoked)
            self.store.drop({tp.partition for tp in revoked})
            self.state.reindex()

    async def on_assigned(self, assigned: Any) -> None:
        """Recover the state of the assigned partitions, retrying; past the budget, stop.

        aiokafka logs and swallows an exception from this callback, so a failure is
        handed to the loop (``failed``), which ends the process without committing.
        """
        partitions = sorted({tp.partition for tp in assigned})

        async def recover() -> None:
            try:
                await self.store.recover(partitions)
            except Exception as exc:
                self.recovery_problem = f"state recovery of partitions {partitions}: {exc!r}"
                raise

        async with self.lock:
            self.store.drop(set(self.store.partitions) - set(partitions))
            try:
                await retrying(recover, self.retry, "state recovery", partitions=partitions)
            except Exception as exc:
                log.critical("router.recovery_failed", partitions=partitions, exc_info=exc)
                self.failed = exc
                self.stopping.set()
                return
            self.recovery_problem = None
            self.state.reindex()
        self.rebalancing = False
        log.info("router.assigned", partitions=partitions)

    # -- the loop ------------------------------------------------------------------------

    def _engine(self) -> RoutingEngine:
        return self.engines.get()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.stopping.is_set():
            wait = self.commits.wait_ms(500)
            batch = await self.consumer.getmany(timeout_ms=wait, max_records=ROUTER_MAX_RECORDS)
            if batch:
                batch = await self._fill(batch)
            if batch and self.failed is None:
                async with self.lock:
                    await self.process(batch)
            elif self.commits.due():
                async with self.lock:
                    await self.commits.commit()
        if self.failed is not None:
            raise self.failed

    async def _fill(self, batch: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        """A small batch waits ``ROUTER_LINGER_SECONDS`` for what the consumer fetched
        meanwhile: one flush and one commit for them all instead of one each."""
        count = sum(len(messages) for messages in batch.values())
        if count >= ROUTER_LINGER_BELOW or ROUTER_LINGER_SECONDS <= 0:
            return batch
        await asyncio.sleep(ROUTER_LINGER_SECONDS)
        more = self.consumer.getmany(timeout_ms=0, max_records=ROUTER_MAX_RECORDS - count)
        for tp, messages in (await more).items():
            batch.setdefault(tp, []).extend(messages)
        return batch

    async def process(self, batch: dict[Any, list[Any]]) -> None:
        engine = self._engine()
        self.debug = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)  # once a batch
        self.state.release_after = engine.release_after
        self._forget_idle(engine)
        outbox = Outbox(self.producer, self.single_record_topics)
        offsets = {}
        routed = produced = 0
        batch_started = time.perf_counter()
        for tp, messages in batch.items():
            if not self.store.holds(tp.partition):
                if tp in self.consumer.assignment():  # held again only once recovered
                    self.consumer.seek(tp, messages[0].offset)
                continue  # revoked after the fetch: the new owner reads it again
            self.routing.fetched(tp.topic, tp.partition, messages[0].offset)
            timing = self.metrics.processing_seconds.labels(tp.topic)
            started = time.perf_counter()
            for message in messages:
                try:
                    if tp.topic == ESCALATIONS:
                        self._on_escalation(message)
                    else:
                        routed += await self._on_contact(engine, message, outbox)
                        produced += 1
                except Exception as exc:
                    reason = classify(exc, message.value)
                    if reason == "dependency":
                        # State already holds part of this batch: start over from the commit.
                        raise DependencyFailed(f"routing {tp}: {exc!r}") from exc
                    if reason == "bug":
                        log.exception("message.handler_failed", topic=tp.topic)
                    await self._dead_letter(message, reason, exc, outbox)
            elapsed = (time.perf_counter() - started) / len(messages)
            for _ in messages:
                timing.observe(elapsed)  # per message: the batch's average
            self.metrics.consumed.labels(tp.topic).inc(len(messages))
            offsets[tp] = messages[-1].offset + 1
        for partition, key, value in self.store.changes():
            await outbox.add(ROUTER_CHANGELOG, partition, key, value)
        try:
            await outbox.flush(self.retry)  # every output and state write acknowledged ...
        except DependencyFailed:
            log.critical("router.flush_failed", partitions=sorted({tp.partition for tp in batch}))
            raise
        crashpoints.crash_point("router.after_flush", when=produced > 0)
        self.metrics.produced.labels(ROUTED).inc(produced)
        self.commits.add(offsets)  # ... before the inputs may be committed (commits.py)
        if self.commits.due():
            await self.commits.commit()
        log.info(
            "router.batch",
            records=sum(len(messages) for messages in batch.values()),
            routed=routed,
            partitions=sorted({tp.partition for tp in batch}),
            seconds=round(time.perf_counter() - batch_started, 4),
        )

    def _forget_idle(self, engine: RoutingEngine) -> None:
        """Once a minute, drop issues idle past ownership.forget_after: state stays bounded."""
        now = time.monotonic()
        if now - self._last_sweep < 60.0:
            return
        self._last_sweep = now
        forget_after = timedelta(seconds=engine.policy.ownership.forget_after)
        forgotten = self.state.forget_idle(datetime.now(UTC) - forget_after)
        if forgotten:
            log.info("router.forgot_idle_issues", count=forgotten)

    async def _on_contact(self, engine: RoutingEngine, message: Any, outbox: Outbox) -> int:
        """Decide, queue the routed record, update the state; 1 if routed (not a duplicate)."""
        contact = codec.decode_contact_record(message.value, message.headers)
        partition = message.partition
        key = issue_state_key(contact.customer.id, contact.issue_id)
        current = self.state.assignment(partition, key)
        decision = engine.decide(contact, datetime.now(UTC), current, self.state)
        value = routed_bytes(contact, decision.routing)
        customer = contact.customer.id.encode()
        await outbox.add(
            ROUTED,
            self.partitioner(customer, self.routed_partitions, self.routed_partitions),
            customer,
            value,
            [("event-id", contact.event_id.encode())],
        )
        if decision.duplicate:
            self.metrics.duplicates.labels(CONTACTS).inc()
            return 0
        self.state.record(partition, key, decision)
        routing = decision.routing
        choice = self.routing.routed_one(contact, routing, datetime.now(UTC))
        if self.debug:  # the batch line is INFO
            with bound(event_id=contact.event_id, issue=contact.issue_id):
                log.debug("router.routed", route=routing.route, owner=routing.owner, choice=choice)
        return 1

    def _on_escalation(self, message: Any) -> None:
        if not may_resolve(message.value):
            return
        record = codec.decode_escalation(message.value)
        if record.type != "resolved":
            return
        key = issue_state_key(record.customer_id, record.issue_id)
        current = self.state.assignment(message.partition, key)
        if current is None or not current.open:
            return
        self.state.release(current.owner, message.partition, record.issue_id)
        self.state.save(message.partition, key, current.model_copy(update={"open": False}))

    async def _dead_letter(
        self, message: Any, reason: str, error: BaseException, outbox: Outbox
    ) -> None:
        """The original bytes and headers to the source topic's DLQ, with the reason."""
        original = {k: bytes(v) for k, v in (message.headers or ())}
        headers = dead_letter_headers(
            self.metrics,
            original,
            message.topic,
            message.partition,
            message.offset,
            reason,
            error,
        )
        await outbox.add(
            dlq_of(message.topic), message.partition, message.key, message.value, headers
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, stop: asyncio.Event) -> None:
        """Start the producer and join the group, retrying while the broker is not up."""
        router = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await router.on_revoked(revoked)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await router.on_assigned(assigned)

        async def routed_partitions() -> None:
            self.routed_partitions = sorted(await self.producer.partitions_for(ROUTED))

        def not_yet(error: BaseException) -> None:
            self.broker_problem = f"broker not reachable yet: {error}"

        names = [spec.name for spec in catalogue(self.settings.kafka_partitions)]
        # One step at a time, so a later step's retry never starts a client twice.
        for attempt, client in (
            (topics_present(self.settings.kafka_common(), names), "router topics"),
            (self.producer.start, "router producer"),
            (routed_partitions, "router producer metadata"),
            (self.consumer.start, "router consumer"),
        ):
            if not await until_broker_answers(attempt, stop, client, on_failure=not_yet):
                return
        self.broker_problem = None
        self.consumer.subscribe([CONTACTS, ESCALATIONS], listener=Listener())

    async def stop(self) -> None:
        async with self.lock:  # every batch written by now: commit what it acknowledged
            await self.commits.commit()
        await self.consumer.stop()  # leaves the group; the batch in flight is done
        await self.producer.stop()


async def run(settings: Settings) -> None:
    router = Router(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "router.policy_loaded",
        source=router.holder.current.source,
        version=router.holder.current.version,
    )
    server = asyncio.create_task(
        serve(router.http(), settings.web_host, settings.router_port, stop)
    )
    watcher = asyncio.create_task(router.holder.watch(stop))
    probe = metadata_probe(settings.kafka_common())
    broker = asyncio.create_task(
        watch_broker(probe, router.metrics.broker_up, stop, settings.broker_probe_seconds)
    )
    try:
        await router.start(stop)
        work = asyncio.create_task(router.run(stop))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if work.done():
            work.result()  # a failure stops the process; the supervisor restarts it
        else:
            await work
    finally:
        stop.set()
        await router.stop()
        await asyncio.gather(server, watcher, broker, return_exceptions=True)
        log.info("router.stopped")
