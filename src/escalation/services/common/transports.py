"""faust transports: idempotent producers on Kafka, end offsets from Fetch on Tansu.

``kafka+idempotent://`` (production): faust's stock aiokafka transport enables
idempotence only inside transactions; this one always does, with ``acks=all``, so a
producer retry after a lost acknowledgement does not write a record twice.

``tansu://`` (embedded profile), faust transport for the embedded broker: end offsets
taken from Fetch.

This Tansu build answers ListOffsets(latest) with the last batch's *base* offset + 1,
so after a multi-record batch the end offset reads low (tools/tansu_repro has the
repro). faust's table recovery reads a changelog up to that offset and would silently
drop the last batch of table writes. The Fetch response's high watermark is right,
so this transport asks for it instead: one short fetch per partition, at recovery and
lag checks only. Production uses the stock ``kafka://`` transport and needs none of it.

Both are selected by the broker URL scheme, registered as ``faust.transports`` entry
points; ``Settings.faust_options`` picks the scheme for the profile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import aiokafka
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


async def fetched_highwaters(
    bootstrap: str | list[str],
    partitions: Iterable[TP],
    reported: Mapping[TP, int],
    wait_seconds: float = 10.0,
) -> dict[TP, int]:
    """The high watermark each partition's Fetch response reports (never below ``reported``)."""
    wanted = list(partitions)
    if not wanted:
        return {}
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(tp.topic, tp.partition) for tp in wanted]
        consumer.assign(tps)
        for tp in tps:
            # A fetch at the reported end (or the last record before it) is cheap and
            # carries the true high watermark.
            consumer.seek(tp, max(reported.get(tp, 0) - 1, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while any(consumer.highwater(tp) is None for tp in tps) and loop.time() < deadline:
            await consumer.getmany(*tps, timeout_ms=100, max_records=1)
        result = {}
        for tp, original in zip(tps, wanted, strict=True):
            fetched = consumer.highwater(tp)
            result[original] = max(fetched if fetched is not None else 0, reported.get(original, 0))
        return result
    finally:
        await consumer.stop()


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        reported = await super()._highwaters(partitions)
        transport = self.transport
        servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        return await fetched_highwaters(servers, partitions, reported)


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class TansuTransport(faust_aiokafka.Transport):
    Consumer = Consumer


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, object]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentKafkaTransport(faust_aiokafka.Transport):
    Producer = IdempotentProducer
