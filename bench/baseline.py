"""Raw aiokafka baselines, tuned as the services are, so a ratio to them means something.

Every baseline client takes its options from ``Settings`` as the services do (acks=all,
the embedded fetch wait), the router's producer options (batch size, no linger) and
fetch sizes (``router_producer_options``, ``ROUTER_FETCH_BYTES``,
``ROUTER_MAX_RECORDS``), and writes
through the same ``Outbox`` (one record batch per partition, awaited together); the
bench runs them on uvloop with the services' garbage-collector setting
(``runner.tune_gc``). What a baseline leaves out is the services' own work: policy
decisions, state, HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from escalation.schemas import codec
from escalation.services.common.outbox import Outbox
from escalation.services.common.settings import Settings
from escalation.services.router.app import (
    ROUTER_FETCH_BYTES,
    ROUTER_MAX_RECORDS,
    router_producer_options,
)

PARTITIONS = 2
"""Partitions of every topic in the bench (the stack's, the baselines', the router's)."""


def producer(bootstrap: str) -> AIOKafkaProducer:
    """The router's producer: the profile's options, whole batches sent without linger."""
    return AIOKafkaProducer(**router_producer_options(Settings(kafka_bootstrap=bootstrap)))


def consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    options = Settings(kafka_bootstrap=bootstrap).consumer_options(group)
    return AIOKafkaConsumer(topic, **options, max_partition_fetch_bytes=ROUTER_FETCH_BYTES)


async def write_all(
    client: AIOKafkaProducer,
    topic: str,
    records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]],
    chunk: int = ROUTER_MAX_RECORDS,
    one_per_batch: bool = False,
) -> None:
    """(key, value, headers) records, keyed to partitions as intake does, in Outbox batches
    (``one_per_batch``: each record its own batch, the single-record-batches workaround)."""
    partitions = sorted(await client.partitions_for(topic))
    partitioner = DefaultPartitioner()
    single = frozenset({topic}) if one_per_batch else frozenset()
    for offset in range(0, len(records), chunk):
        outbox = Outbox(client, single)
        for key, value, headers in records[offset : offset + chunk]:
            await outbox.add(topic, partitioner(key, partitions, partitions), key, value, headers)
        await outbox.flush()


async def raw_produce(
    bootstrap: str, topic: str, payloads: list[bytes], one_per_batch: bool = False
) -> float:
    """Events/s of one producer writing ``payloads`` keyed by customer id."""
    records = [
        (codec.loads_plain(p)["customer"]["id"].encode(), p, [("event-id", b"x")]) for p in payloads
    ]
    client = producer(bootstrap)
    await client.start()
    try:
        started = time.perf_counter()
        await write_all(client, topic, records, one_per_batch=one_per_batch)
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await client.stop()


async def raw_pipeline(
    bootstrap: str, source: str, sink: str, n: int, joined: asyncio.Event
) -> tuple[float, float]:
    """getmany -> decode (validate) -> encode -> Outbox -> flush -> commit: the raw loop.

    Returns when it read its first record and when it committed its last batch.
    """
    reader = consumer(bootstrap, source, f"raw-{source}")
    writer = producer(bootstrap)
    await reader.start()
    await writer.start()
    done, started = 0, None
    partitions = sorted(await writer.partitions_for(sink))
    partitioner = DefaultPartitioner()
    try:
        while not reader.assignment():
            await reader.getmany(timeout_ms=100)
        joined.set()
        while done < n:
            batch = await reader.getmany(timeout_ms=500, max_records=ROUTER_MAX_RECORDS)
            if not batch:
                continue
            started = started or time.perf_counter()
            outbox = Outbox(writer)
            offsets = {}
            for tp, messages in batch.items():
                for message in messages:
                    value = codec.encode(codec.decode_contact(message.value))
                    partition = partitioner(message.key, partitions, partitions)
                    await outbox.add(sink, partition, message.key, value, list(message.headers))
                offsets[tp] = messages[-1].offset + 1
                done += len(messages)
            await outbox.flush()
            await reader.commit(offsets)
        return started or time.perf_counter(), time.perf_counter()
    finally:
        await reader.stop()
        await writer.stop()


async def raw_chain(bootstrap: str, topics: list[str], payloads: list[bytes]) -> float:
    """Raw hops running at once (like router + escalator), joined before the input arrives."""
    n = len(payloads)
    joined = [asyncio.Event() for _ in topics[1:]]
    hops = [
        asyncio.create_task(raw_pipeline(bootstrap, src, dst, n, event))
        for (src, dst), event in zip(itertools.pairwise(topics), joined, strict=True)
    ]
    await asyncio.gather(*(event.wait() for event in joined))
    await raw_produce(bootstrap, topics[0], payloads)
    spans = await asyncio.gather(*hops)
    return n / (max(end for _, end in spans) - min(start for start, _ in spans))
