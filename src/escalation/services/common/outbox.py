"""Outputs of one consumed batch, sent as record batches and awaited together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from .faults import RetryPolicy, classify, retrying

log = structlog.get_logger(__name__)

Record = dict[str, Any]


@dataclass
class _Chunk:
    """The records of one sent record batch, kept until the broker acknowledged them."""

    topic: str
    partition: int
    records: list[Record]
    future: asyncio.Future[Any] | None = None
    error: BaseException | None = field(default=None)


class Outbox:
    """One batch's records, grouped per (topic, partition) into record batches.

    aiokafka's ``send`` costs a coroutine, a future and a callback per record; building
    the record batches here costs one future per partition and batch. ``single`` sends
    each record of the given topic in a batch of its own (the ``single-record-batches``
    end-offset workaround, docs/broker.md).

    Each batch's records are kept until ``flush`` saw them acknowledged, so a failed
    write is sent again: from the first failed batch of a partition on, in order (a
    record the broker took but did not acknowledge may be written twice; consumers
    dedup by event id, and a changelog record written twice changes nothing).
    """

    def __init__(self, producer: AIOKafkaProducer, single: frozenset[str] = frozenset()) -> None:
        self.producer = producer
        self.single = single
        self.builders: dict[tuple[str, int], Any] = {}
        self.pending: dict[tuple[str, int], list[Record]] = {}
        self.chunks: list[_Chunk] = []
        self.closed: list[tuple[_Chunk, Any]] = []  # closed, not yet sent, in order

    async def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """``put`` the record, then send at once any record batch it closed."""
        self.put(topic, partition, key, value, headers)
        await self._send_closed()

    def put(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Add the record without a coroutine: a batch it fills (or a ``single`` topic's
        record) is closed here and sent by the next ``add`` or by ``flush``, in order."""
        record = {"timestamp": None, "key": key, "value": value, "headers": headers or []}
        tp = (topic, partition)
        builder = self.builders.get(tp)
        if builder is None or builder.append(**record) is None:
            if builder is not None:  # full: close it, start the next
                self._close(topic, partition)
            builder = self.producer.create_batch()
            if builder.append(**record) is None:  # the first record always fits, whatever size
                raise MessageSizeTooLargeError(f"a record for {topic} does not fit in a batch")
            self.builders[tp] = builder
        pending = self.pending.get(tp)
        if pending is None:
            self.pending[tp] = [record]
        else:
            pending.append(record)
        if topic in self.single:
            self._close(topic, partition)

    def _close(self, topic: str, partition: int) -> None:
        builder = self.builders.pop((topic, partition))
        chunk = _Chunk(topic, partition, self.pending.pop((topic, partition)))
        self.closed.append((chunk, builder))

    async def _send_closed(self) -> None:
        closed, self.closed = self.closed, []
        for chunk, builder in closed:
            self.chunks.append(chunk)
            await self._submit(chunk, builder)

    async def _submit(self, chunk: _Chunk, builder: Any) -> None:
        chunk.error = None
        # Closed, the batch takes no record from the producer's ``send`` (a shared
        # producer) and leaves at once instead of waiting out the producer's linger.
        builder.close()
        try:
            chunk.future = await self.producer.send_batch(
                builder, chunk.topic, partition=chunk.partition
            )
        except Exception as exc:
            if classify(exc) != "dependency":
                raise
            chunk.future, chunk.error = None, exc  # sent again by flush

    async def flush(self, policy: RetryPolicy | None = None, **context: object) -> None:
        """Send every open batch and wait until the broker acknowledged them all.

        A failed write is sent again, with backoff under ``policy`` (once without one);
        past the budget this raises DependencyFailed, and the caller must not commit.
        ``context`` goes into the retry log lines (which input the writes are for).
        """
        for topic, partition in list(self.builders):
            self._close(topic, partition)
        await self._send_closed()
        await self._await_chunks()
        if not self._failed():
            self.chunks = []
            return
        await retrying(self._resend_failed, policy or RetryPolicy(0.0), "outbox flush", **context)
        self.chunks = []

    async def _await_chunks(self) -> None:
        futures = [c.future for c in self.chunks if c.future is not None]
        results = await asyncio.gather(*futures, return_exceptions=True)
        waited = (c for c in self.chunks if c.future is not None)
        for chunk, result in zip(waited, results, strict=True):
            if isinstance(result, BaseException):
                chunk.error = result
            chunk.future = None

    def _failed(self) -> list[_Chunk]:
        """The chunks to send again: per partition, the first failed one and all after it."""
        again: list[_Chunk] = []
        broken: set[tuple[str, int]] = set()
        for chunk in self.chunks:
            tp = (chunk.topic, chunk.partition)
            if chunk.error is not None:
                if classify(chunk.error) != "dependency":
                    raise chunk.error
                broken.add(tp)
            if tp in broken:
                again.append(chunk)
        return again

    async def _resend_failed(self) -> None:
        failed = self._failed()
        if not failed:
            return
        self.chunks = failed
        for chunk in failed:
            builder = self.producer.create_batch()
            for record in chunk.records:
                if builder.append(**record) is None:  # cannot happen: it fit before
                    raise MessageSizeTooLargeError(f"a record for {chunk.topic} no longer fits")
            await self._submit(chunk, builder)
        await self._await_chunks()
        errors = [c.error for c in self._failed() if c.error is not None]
        if errors:
            raise errors[0]
