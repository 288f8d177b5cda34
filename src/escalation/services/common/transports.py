"""faust transports: the consumer's fetch wait, idempotent producers on Kafka, end offsets
from Fetch on Tansu.

Both transports take the consumer's fetch wait from the broker URL
(``tansu://host:port?fetch_max_wait_ms=20``), because faust has no setting for it and
hardcodes 1500 ms in ``_create_worker_consumer``. Tansu answers a fetch that found no
record only when that wait ends, even when records arrive meanwhile, so on the
embedded broker the wait is latency added at every hop (docs/broker.md).

``kafka+idempotent://`` (production): faust's stock aiokafka transport enables
idempotence only inside transactions; this one always does, with ``acks=all``, so a
producer retry after a lost acknowledgement does not write a record twice.

``tansu://`` (embedded profile), faust transport for the embedded broker: end offsets
taken from Fetch (``end_offsets=broker`` in the URL turns that off, for the other
workarounds and the repro).

This Tansu build answers ListOffsets(latest) with the last batch's *base* offset + 1,
so after a multi-record batch the end offset reads low (tools/tansu_repro has the
repro). faust's table recovery reads a changelog up to that offset and would silently
drop the last batch of table writes. The Fetch response's high watermark is right,
so this transport asks for it instead: one short fetch per partition, at recovery and
lag checks only. Production uses the stock ``kafka://`` transport and needs none of it.

Both also seek back after a rebalance with the flow stopped, and rewind to its start an
input partition with no committed offset (``SeekWithFlowStopped``): faust resumes the
input partitions, seeks, and only then clears its stream queues (faust-streaming issue
596), so records fetched around the seek were marked read and thrown away, and the
partition stalled, uncommitted, until the next restart. A worker restarted with a
backlog hit it about one time in three (tests/integration/test_crash_windows.py).

Both also hand a fetched message to faust's streams without four tasks when the delivery
need not wait (``drain.EagerDelivery``).

Both are selected by the broker URL scheme, registered as ``faust.transports`` entry
points; ``Settings.faust_options`` picks the scheme for the profile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import aiokafka
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from .drain import EagerDelivery
from .settings import EMBEDDED_FETCH_MAX_WAIT_MS


async def fetched_highwaters(
    bootstrap: str | list[str],
    partitions: Iterable[TP],
    reported: Mapping[TP, int],
    wait_seconds: float = 10.0,
    fetch_max_wait_ms: int = EMBEDDED_FETCH_MAX_WAIT_MS,
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
        fetch_max_wait_ms=fetch_max_wait_ms,
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


def url_option(transport: faust_aiokafka.Transport, name: str) -> str | None:
    """A query parameter of the transport's (first) broker URL."""
    return transport.url[0].query.get(name) if transport.url else None


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer with the fetch wait the broker URL names (else faust's 1500 ms)."""

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait = url_option(transport, "fetch_max_wait_ms")
        if wait is not None:
            # Read once, when the consumer starts and builds its fetcher; an aiokafka that
            # renamed it fails here loudly rather than silently keeping 1500 ms.
            assert hasattr(consumer, "_fetch_max_wait_ms"), "aiokafka consumer changed"
            consumer._fetch_max_wait_ms = int(wait)
        return consumer


class TansuConsumerThread(FetchWaitConsumerThread):
    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        reported = await super()._highwaters(partitions)
        transport = self.transport
        if url_option(transport, "end_offsets") == "broker":
            return reported
        servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        wait = int(url_option(transport, "fetch_max_wait_ms") or EMBEDDED_FETCH_MAX_WAIT_MS)
        return await fetched_highwaters(servers, partitions, reported, fetch_max_wait_ms=wait)


class SeekWithFlowStopped(EagerDelivery, faust_aiokafka.Consumer):
    """After a rebalance, seek back with the flow stopped, and rewind what has no commit.

    faust's recovery resumes the input partitions, awaits this seek, clears every stream
    queue, then resumes the flow. With the flow still running from the changelog reads,
    the fetcher could deliver records into the queues around the seek, before the
    clear: they were marked read, so never fetched again, and never acked, so the
    partition's commit stopped there. Stopped, the fetcher delivers nothing until faust
    resumes the flow after the clear. aiokafka seeks only partitions that have a
    committed offset; one without is rewound to its start here (what
    ``auto_offset_reset=earliest`` reads), so what was fetched and dropped is read again.
    """

    async def perform_seek(self) -> None:
        self.stop_flow()
        await super().perform_seek()
        uncommitted = [
            tp
            for tp in self.assignment()
            if not self._is_changelog_tp(tp) and self._read_offset.get(tp) is None
        ]
        if uncommitted:
            for tp, offset in (await self.earliest_offsets(*uncommitted)).items():
                await self.seek(tp, offset)


class FetchWaitConsumer(SeekWithFlowStopped):
    def _new_consumer_thread(self) -> FetchWaitConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class TansuConsumer(SeekWithFlowStopped):
    def _new_consumer_thread(self) -> TansuConsumerThread:
        return TansuConsumerThread(self, loop=self.loop, beacon=self.beacon)


class TansuTransport(faust_aiokafka.Transport):
    Consumer = TansuConsumer


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, object]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentKafkaTransport(faust_aiokafka.Transport):
    Consumer = FetchWaitConsumer
    Producer = IdempotentProducer
