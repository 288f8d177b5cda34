"""Outputs of one consumed batch, sent as record batches and awaited together."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError


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
