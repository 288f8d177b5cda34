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
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

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

    def __init__(self, settings: Settings, topic: str, encode: Encode, decode: Decode) -> None:
        super().__init__()
        self.settings = settings
        self.topic = topic
        self.encode = encode
        self.decode = decode

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
        await consumer.start()
        try:
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
            tables: dict[int, dict[bytes, Any]] = {p: {} for p in wanted}
            pending = {tp for tp in tps if ends[tp] > 0}
            records = 0
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
                            table[message.key] = self.decode(message.key, message.value)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                await asyncio.sleep(0)
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
