"""Router, batch runtime: getmany -> decide -> send -> write state -> commit.

The same decisions, output and state semantics as the faust agent (``app.py``), without
faust's per-event machinery: one aiokafka consumer (group ``escalation-router``, manual
commits) reads contacts.v1 and escalations.v1; each ``getmany`` batch is decided with
the in-memory state of its partitions, the routed records, dead letters and the changed
state keys (``escalation-router-batch-state-changelog``, same partition number as the
input) are sent, and only once the broker acknowledged all of them are the batch's
offsets committed. A crash replays at most the uncommitted batch; seen event ids and
per-(owner, partition) issue sets make that replay change nothing but the output, which
downstream dedups by event id.

Partitions are assigned with the range assignor, so a worker holds the same partition
numbers of both inputs (co-partitioned by customer id), and each assigned partition's
state is rebuilt from its changelog before any of its records is processed.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter

from escalation.schemas import ContactEvent, DecodeError, Routing, codec
from escalation.schemas.state import Assignment, LoadEntry
from escalation.services.common.changelog_store import ChangelogStore
from escalation.services.common.http import HttpApp, serve
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.settings import Settings
from escalation.services.common.topics import (
    CONTACTS,
    ESCALATIONS,
    ROUTED,
    ROUTER_APP,
    ROUTER_BATCH_CHANGELOG,
    dlq_of,
)

from .policy.engine import RoutingEngine
from .policy.reload import PolicyHolder
from .state import issue_key

log = structlog.get_logger(__name__)

Aggregate = tuple[datetime, datetime, int]
"""(earliest last contact, latest assignment, issues) of one owner's load in one partition."""


def _encode(key: bytes, value: Any) -> bytes:
    return codec.encode(value)


def _decode(key: bytes, value: bytes) -> Any:
    return codec.decode_assignment(value)


def routed_bytes(contact: ContactEvent, routing: Routing) -> bytes:
    """``codec.encode(RoutedContact(**contact, routing=routing))`` without building the model.

    RoutedContact is the contact's fields followed by ``routing``, so the JSON is the
    contact's with one member appended (a unit test holds the two equal).
    """
    return codec.encode(contact)[:-1] + b',"routing":' + codec.encode(routing) + b"}"


class BatchOwnership:
    """``OwnershipState`` semantics on a :class:`ChangelogStore` of live objects.

    Only assignments are stored (changelog key ``a/<customer>/<issue>``). Owner loads are
    an index over them: each issue an owner holds has the times of its open assignment,
    kept per (owner, partition) with a cached aggregate so a decision does not scan every
    issue an owner holds, and rebuilt from the open assignments after a rebalance or a
    restart. That writes one small record per routed contact instead of faust's one
    record per (owner, partition) holding every issue, which grows without bound when
    every contact falls back to one owner and crosses Kafka's 1 MB record limit.

    One difference from the faust tables: faust drops an owner's idle issues (past
    ``release_after``) from the load record when it gives that owner another issue; the
    rebuilt index keeps them until then. Idle issues never count towards the load, so
    only the least-recently-assigned tie-break can see it.
    """

    def __init__(self, store: ChangelogStore) -> None:
        self.store = store
        self.release_after = timedelta(days=14)
        self.loads: dict[tuple[str, int], dict[str, LoadEntry]] = {}
        self._aggregates: dict[tuple[str, int], Aggregate] = {}

    def reindex(self) -> None:
        """Rebuild the loads from the open assignments of the partitions held now."""
        self.loads.clear()
        self._aggregates.clear()
        for partition in self.store.partitions:
            for assignment in self.store.data[partition].values():
                if assignment.open:
                    self.loads.setdefault((assignment.owner, partition), {})[
                        assignment.issue_id
                    ] = LoadEntry.model_construct(
                        assigned_at=assignment.assigned_at,
                        last_contact_at=assignment.last_contact_at,
                    )

    def assignment(self, partition: int, key: bytes) -> Assignment | None:
        return self.store.get(partition, b"a/" + key)

    def save(self, partition: int, key: bytes, assignment: Assignment) -> None:
        self.store.put(partition, b"a/" + key, assignment)

    def _aggregate(self, held: tuple[str, int], issues: dict[str, LoadEntry]) -> Aggregate:
        cached = self._aggregates.get(held)
        if cached is None:
            entries = issues.values()
            cached = (
                min(e.last_contact_at for e in entries),
                max(e.assigned_at for e in entries),
                len(issues),
            )
            self._aggregates[held] = cached
        return cached

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]:
        """Open issues the owner holds (idle ones past ``release_after`` excluded)."""
        horizon = now - self.release_after
        count, last = 0, None
        for partition in self.store.partitions:
            issues = self.loads.get((owner_id, partition))
            if not issues:
                continue
            low, high, size = self._aggregate((owner_id, partition), issues)
            if low >= horizon:
                count += size
            else:
                count += sum(1 for e in issues.values() if e.last_contact_at >= horizon)
            if last is None or high > last:
                last = high
        return count, last

    def hold(self, owner_id: str, partition: int, issue: str, assignment: Assignment) -> None:
        held = (owner_id, partition)
        issues = self.loads.setdefault(held, {})
        entry = LoadEntry.model_construct(
            assigned_at=assignment.assigned_at, last_contact_at=assignment.last_contact_at
        )
        if issues.get(issue) == entry:
            return
        if issues:
            horizon = assignment.last_contact_at - self.release_after
            if self._aggregate(held, issues)[0] < horizon:
                for idle in [k for k, v in issues.items() if v.last_contact_at < horizon]:
                    del issues[idle]
                self._aggregates.pop(held, None)
        old = issues.get(issue)
        issues[issue] = entry
        cached = self._aggregates.get(held)
        if cached is None:
            return
        low, high, size = cached
        if old is not None and (
            old.last_contact_at <= low < entry.last_contact_at
            or old.assigned_at >= high > entry.assigned_at
        ):
            self._aggregates.pop(held)  # the extreme may have moved: recompute when asked
        else:
            self._aggregates[held] = (
                min(low, entry.last_contact_at),
                max(high, entry.assigned_at),
                size + (old is None),
            )

    def release(self, owner_id: str, partition: int, issue: str) -> None:
        issues = self.loads.get((owner_id, partition))
        if issues and issue in issues:
            del issues[issue]
            self._aggregates.pop((owner_id, partition), None)


class Outbox:
    """One batch's records, grouped per (topic, partition) into record batches.

    aiokafka's ``send`` costs a coroutine, a future and a callback per record; building
    the record batches here costs one future per partition and batch. ``single`` sends
    each record of the given topic in a batch of its own (the ``single-record-batches``
    end-offset workaround, docs/broker.md).
    """

    def __init__(self, producer: AIOKafkaProducer, single: frozenset[str] = frozenset()) -> None:
        self.producer = producer
        self.single = single
        self.builders: dict[tuple[str, int], Any] = {}
        self.futures: list[asyncio.Future[Any]] = []

    async def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        record = {"timestamp": None, "key": key, "value": value, "headers": headers or []}
        builder = self.builders.get((topic, partition))
        if builder is None or builder.append(**record) is None:
            if builder is not None:  # full: send it, start the next
                await self._send(topic, partition)
            builder = self.builders[(topic, partition)] = self.producer.create_batch()
            if builder.append(**record) is None:  # the first record always fits, whatever size
                raise MessageSizeTooLargeError(f"a record for {topic} does not fit in a batch")
        if topic in self.single:
            await self._send(topic, partition)

    async def _send(self, topic: str, partition: int) -> None:
        builder = self.builders.pop((topic, partition))
        self.futures.append(await self.producer.send_batch(builder, topic, partition=partition))

    async def flush(self) -> None:
        """Send every open batch and wait until the broker acknowledged them all."""
        for topic, partition in list(self.builders):
            await self._send(topic, partition)
        futures, self.futures = self.futures, []
        await asyncio.gather(*futures)  # a failed write raises: nothing is committed


class BatchRouter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics("router")
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.engine = RoutingEngine(self.holder.current)
        self.store = ChangelogStore(settings, ROUTER_BATCH_CHANGELOG, _encode, _decode)
        self.state = BatchOwnership(self.store)
        self.routed = Counter(
            "escalation_routed_total",
            "Contacts routed, by route and how the owner was chosen.",
            ["route", "choice"],
            registry=self.metrics.registry,
        )
        self.choices: dict[tuple[str, str], Any] = {}
        self.partitioner = DefaultPartitioner()
        self.routed_partitions: list[int] = []
        self.lock = asyncio.Lock()
        self.rebalancing = True
        self.consumer = AIOKafkaConsumer(
            **settings.consumer_options(ROUTER_APP),
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        self.producer = AIOKafkaProducer(
            **settings.producer_options(),
            max_batch_size=512 * 1024,  # under Kafka's default 1 MB message.max.bytes
        )
        single = {ROUTER_BATCH_CHANGELOG} if settings.single_record_batches else set()
        self.single_record_topics = frozenset(single)

    # -- health --------------------------------------------------------------------------

    async def readiness(self) -> list[str]:
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
        async with self.lock:  # the batch in flight commits first
            self.store.drop({tp.partition for tp in revoked})
            self.state.reindex()

    async def on_assigned(self, assigned: Any) -> None:
        async with self.lock:
            partitions = {tp.partition for tp in assigned}
            self.store.drop(set(self.store.partitions) - partitions)
            await self.store.recover(sorted(partitions))
            self.state.reindex()
        self.rebalancing = False
        log.info("router.assigned", partitions=sorted(partitions))

    # -- the loop ------------------------------------------------------------------------

    def _engine(self) -> RoutingEngine:
        if self.engine.loaded is not self.holder.current:
            self.engine = RoutingEngine(self.holder.current)
        return self.engine

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=500, max_records=2000)
            if batch:
                async with self.lock:
                    await self.process(batch)

    async def process(self, batch: dict[Any, list[Any]]) -> None:
        engine = self._engine()
        self.state.release_after = engine.release_after
        outbox = Outbox(self.producer, self.single_record_topics)
        offsets = {}
        routed = produced = 0
        for tp, messages in batch.items():
            if not self.store.holds(tp.partition):
                continue  # revoked after the fetch: the new owner reads it again
            timing = self.metrics.processing_seconds.labels(tp.topic)
            started = time.perf_counter()
            for message in messages:
                try:
                    if tp.topic == ESCALATIONS:
                        self._on_escalation(message)
                    else:
                        routed += await self._on_contact(engine, message, outbox)
                        produced += 1
                except DecodeError as exc:
                    await self._dead_letter(message, f"decode.{exc.kind}", exc, outbox)
                except Exception as exc:
                    log.exception("message.handler_failed", topic=tp.topic)
                    await self._dead_letter(message, "handler.error", exc, outbox)
            elapsed = (time.perf_counter() - started) / len(messages)
            for _ in messages:
                timing.observe(elapsed)  # per message: the batch's average
            self.metrics.consumed.labels(tp.topic).inc(len(messages))
            offsets[tp] = messages[-1].offset + 1
        for partition, key, value in self.store.changes():
            await outbox.add(ROUTER_BATCH_CHANGELOG, partition, key, value)
        await outbox.flush()
        self.metrics.produced.labels(ROUTED).inc(produced)
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except CommitFailedError as exc:
                log.warning("router.commit_failed", error=str(exc))

    async def _on_contact(self, engine: RoutingEngine, message: Any, outbox: Outbox) -> int:
        """Decide, queue the routed record, update the state; 1 if routed (not a duplicate)."""
        contact = codec.decode_contact(message.value)
        partition = message.partition
        key = issue_key(contact.customer.id, contact.issue_id)
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
        if decision.released_from is not None:
            self.state.release(decision.released_from, partition, contact.issue_id)
        self.state.hold(decision.assignment.owner, partition, contact.issue_id, decision.assignment)
        self.state.save(partition, key, decision.assignment)
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
        counter = self.choices.get((routing.route, choice))
        if counter is None:
            counter = self.choices[(routing.route, choice)] = self.routed.labels(
                routing.route, choice
            )
        counter.inc()
        return 1

    def _on_escalation(self, message: Any) -> None:
        record = codec.decode_escalation(message.value)
        if record.type != "resolved":
            return
        key = issue_key(record.customer_id, record.issue_id)
        current = self.state.assignment(message.partition, key)
        if current is None or not current.open:
            return
        self.state.release(current.owner, message.partition, record.issue_id)
        self.state.save(message.partition, key, current.model_copy(update={"open": False}))

    async def _dead_letter(
        self, message: Any, reason: str, error: BaseException, outbox: Outbox
    ) -> None:
        """The original bytes and headers to the source topic's DLQ, with the reason."""
        headers = {k: bytes(v) for k, v in (message.headers or ())}
        text = str(error)
        headers.update(
            {
                "error": text[:4000].encode(),
                "error-type": reason.encode(),
                "source-topic": message.topic.encode(),
                "source-partition": str(message.partition).encode(),
                "source-offset": str(message.offset).encode(),
                "dead-lettered-at": str(int(time.time() * 1000)).encode(),
            }
        )
        self.metrics.dead_lettered.labels(message.topic, reason).inc()
        log.warning(
            "message.dead_lettered",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            reason=reason,
            error=text[:500],
        )
        await outbox.add(
            dlq_of(message.topic), message.partition, message.key, message.value, [*headers.items()]
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

        delay = 0.2
        while not stop.is_set():
            try:
                await self.producer.start()
                self.routed_partitions = sorted(await self.producer.partitions_for(ROUTED))
                await self.consumer.start()
                break
            except KafkaError as exc:
                log.warning("router.broker_not_ready", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.consumer.subscribe([CONTACTS, ESCALATIONS], listener=Listener())

    async def stop(self) -> None:
        await self.consumer.stop()  # leaves the group; the batch in flight is done
        await self.producer.stop()


async def run(settings: Settings) -> None:
    router = BatchRouter(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "router.policy_loaded",
        runtime="batch",
        source=router.holder.current.source,
        version=router.holder.current.version,
    )
    server = asyncio.create_task(
        serve(router.http(), settings.web_host, settings.router_port, stop)
    )
    watcher = asyncio.create_task(router.holder.watch(stop))
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
        await asyncio.gather(server, watcher, return_exceptions=True)
        log.info("router.stopped", runtime="batch")
