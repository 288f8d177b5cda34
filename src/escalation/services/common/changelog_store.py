"""In-memory state per input partition, made durable by a compacted changelog topic.

The batch stream loops keep their state here instead of in faust tables. Values are
plain objects; a changed key is encoded once per batch, when the caller takes the
``changes`` and writes them to the changelog partition with the input partition's number
(co-partitioned, so whoever owns an input partition owns its state). The caller awaits
the changelog writes together with its outputs, and only then commits the input offsets:
a crash replays at most the uncommitted batch, against state that may already hold some
of its effects, which is why the state must make reapplying an input a no-op (seen ids,
sets).

Recovery reads a partition's changelog from the beginning up to the high watermark of a
Fetch response, because the embedded broker under-reports ListOffsets (docs/broker.md);
on Apache Kafka the two agree and the extra fetch costs a few milliseconds.

A record that does not decode is skipped, logged and counted
(``escalation_changelog_skipped_total``): its key's state is lost (for the router, one
issue forgets its sticky owner) but the rest of the partition recovers; failing on it
would fail every restart the same way. A broker failure during recovery raises (an
aiokafka error, or KafkaTimeoutError when the read stops making progress), and the
caller retries the whole partition: nothing is installed until every record is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry, Counter

from escalation.schemas import DecodeError

from .settings import Settings
from .transports import fetched_highwaters

log = structlog.get_logger(__name__)

Encode = Callable[[bytes, Any], bytes]
Decode = Callable[[bytes, bytes], Any]


class PartitionStore:
    """key -> value per partition, in memory, with the keys changed not yet taken.

    ``policy replay`` runs the router's state on this directly (nothing written); the
    services use :class:`ChangelogStore`, which adds recovery from the changelog.
    """

    def __init__(self) -> None:
        self.data: dict[int, dict[bytes, Any]] = {}
        self.dirty: dict[int, set[bytes]] = {}

    def open(self, partition: int) -> None:
        """Hold ``partition`` with no state (replay; the services recover instead)."""
        self.data.setdefault(partition, {})
        self.dirty.setdefault(partition, set())

    # -- reads and writes, only for partitions this process holds --------------------------

    @property
    def partitions(self) -> Iterable[int]:
        return self.data.keys()

    def holds(self, partition: int) -> bool:
        return partition in self.data

    def get(self, partition: int, key: bytes) -> Any:
        return self.data[partition].get(key)

    def put(self, partition: int, key: bytes, value: Any) -> None:
        """Set (or, for a value already stored and changed in place, mark) ``key``."""
        self.data[partition][key] = value
        self.dirty[partition].add(key)

    def delete(self, partition: int, key: bytes) -> None:
        self.data[partition].pop(key, None)
        self.dirty[partition].add(key)

    # -- assignment ------------------------------------------------------------------------

    def drop(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self.data.pop(partition, None)
            self.dirty.pop(partition, None)


class ChangelogStore(PartitionStore):
    """A :class:`PartitionStore` recovered from, and written through, a changelog topic."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        encode: Encode,
        decode: Decode,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.topic = topic
        self.encode = encode
        self.decode = decode
        self.skipped = Counter(
            "escalation_changelog_skipped_total",
            "Changelog records that did not decode and were skipped during recovery.",
            ["topic"],
            registry=registry,
        ).labels(topic)

    def changes(self) -> Iterator[tuple[int, bytes, bytes | None]]:
        """(partition, key, encoded value or None for a tombstone) of every changed key.

        Consuming the iterator clears the changed set: write every item before the
        input offsets are committed.
        """
        for partition, keys in self.dirty.items():
            values = self.data[partition]
            for key in keys:
                value = values.get(key)
                yield partition, key, None if value is None else self.encode(key, value)
            keys.clear()

    async def recover(self, partitions: Iterable[int]) -> None:
        """Rebuild each partition's state from its changelog, up to the true end offset."""
        wanted = [p for p in partitions if p not in self.data]
        if not wanted:
            return
        tps = [TopicPartition(self.topic, p) for p in wanted]
        consumer = AIOKafkaConsumer(**self.settings.reader_options())
        try:
            await consumer.start()
            consumer.assign(tps)
            reported = await consumer.end_offsets(tps)
            ends = reported
            if self.settings.embedded and self.settings.embedded_end_offsets != "trust-broker":
                ends = await fetched_highwaters(
                    self.settings.kafka_bootstrap,
                    tps,
                    reported,
                    fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
                )
            await consumer.seek_to_beginning(*tps)
            tables, records = await self._read(consumer, {tp: ends[tp] for tp in tps})
        finally:
            await consumer.stop()
        for partition, table in tables.items():
            self.data[partition] = table
            self.dirty[partition] = set()
        log.info(
            "changelog.recovered",
            topic=self.topic,
            partitions=wanted,
            records=records,
            keys=sum(len(t) for t in tables.values()),
        )

    async def _read(
        self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
    ) -> tuple[dict[int, dict[bytes, Any]], int]:
        """Every record below ``ends``, applied in order: the latest value of each key."""
        loop = asyncio.get_running_loop()
        stall_limit = self.settings.kafka_request_timeout_seconds
        tables: dict[int, dict[bytes, Any]] = {tp.partition: {} for tp in ends}
        pending = {tp for tp, end in ends.items() if end > 0}
        records = 0
        progress_at = loop.time()
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
            for tp, messages in batch.items():
                table = tables[tp.partition]
                for message in messages:
                    if message.offset >= ends[tp] or message.key is None:
                        continue
                    records += 1
                    if message.value is None:
                        table.pop(message.key, None)
                    else:
                        self._apply(table, message)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
            if batch:
                progress_at = loop.time()
            elif loop.time() - progress_at > stall_limit:
                raise KafkaTimeoutError(
                    f"reading {self.topic} made no progress for {stall_limit:.0f}s"
                )
            await asyncio.sleep(0)
        return tables, records

    def _apply(self, table: dict[bytes, Any], message: Any) -> None:
        try:
            table[message.key] = self.decode(message.key, message.value)
        except DecodeError as exc:
            # An older value of the key is no truer than none: the newest record wins.
            table.pop(message.key, None)
            self.skipped.inc()
            log.error(
                "changelog.record_skipped",
                topic=self.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key.decode(errors="replace"),
                error=exc.detail,
            )
