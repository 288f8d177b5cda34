"""Writing a batch's records together, and its table changes after them, without losing one.

A faust service that takes its input in batches (``stream.noack_take``) writes each
phase of a batch (its outputs, then each table's changes) as record batches through the
``Outbox``, on the aiokafka producer faust itself uses, and awaits every acknowledgement
before the next phase: one broker round trip per phase, and no per-record coroutine,
future and callback (faust's ``Topic.send`` cost 0.4-0.7 ms per record on the loaded
2-core machine; docs/decisions.md has the figures). We await the acknowledgements
ourselves because faust's commit does not stand for them: it flushes its producer, but
a failed send does not stop the commit (``asyncio.wait`` never raises,
``Topic._on_published`` only logs). A batch the broker refused is sent again with
backoff (``Outbox.flush``); past the budget :class:`DependencyFailed` ends the batch
uncommitted. An error that is not the broker's (a record too large) propagates for the
caller to pin on one input.

Table changes go through :meth:`BatchWriter.write_tables`: the changelog records first,
then, once the broker has every one, the values into the table's store. faust's
``table[k] = v`` raises where a batch is handled (``current_event()`` is None there,
and it is the event whose partition the changelog record goes to), and it writes the
store before the changelog is sent; a ``rocksdb://`` store would keep a value no
changelog holds if the process died between the two, and the restarted worker, finding
the input's state already applied, would never send it. Written after, a crash in
between leaves the store behind the changelog, and the replayed input writes the same
value again. These writes do not record a rocksdb store's persisted changelog offset
(faust's ``_on_changelog_sent``), so such a store reads its changelog from the start
when it recovers: slower, never wrong.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from faust import streams
from faust.types import EventT

from .faults import DependencyFailed, RetryPolicy, classify
from .outbox import Outbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One record for ``topic``'s ``partition``."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] | None = None


@dataclass(frozen=True)
class TableWrite:
    """A table's new value for ``key``, in the partition of ``event`` (its input)."""

    table: Any
    event: EventT
    key: bytes
    value: bytes

    def record(self) -> Outgoing:
        changelog = self.table.changelog_topic.get_topic_name()
        return Outgoing(changelog, self.event.message.partition, self.key, self.value)

    def store(self) -> None:
        # A rocksdb store picks the partition's database from the current event.
        token = streams._current_event.set(weakref.ref(self.event))
        try:
            self.table.data[self.key] = self.value
        finally:
            streams._current_event.reset(token)


class BatchWriter:
    """Sends record batches through ``producer()`` (looked up per batch: faust starts it)."""

    def __init__(
        self,
        producer: Callable[[], AIOKafkaProducer],
        policy: RetryPolicy,
        single: frozenset[str] = frozenset(),
    ) -> None:
        self.producer = producer
        self.policy = policy
        self.single = single

    async def send_together(self, records: Sequence[Outgoing], **context: object) -> None:
        """Every record sent, then every acknowledgement awaited; refused batches resent.

        ``context`` names the inputs the records are for, in the retry log lines.
        """
        if not records:
            return
        outbox = Outbox(self.producer(), self.single)
        put = outbox.put  # no coroutine per record: every batch is sent by the flush
        for r in records:
            put(r.topic, r.partition, r.key, r.value, r.headers)
        await outbox.flush(self.policy, **context)

    async def write_tables(self, writes: Sequence[TableWrite], **context: object) -> None:
        """Every changelog record acknowledged, then every value in its table's store."""
        await self.send_together([write.record() for write in writes], **context)
        for write in writes:
            write.store()


BatchStep = Callable[[list[EventT]], Awaitable[None]]


def whole_or_each(
    step: BatchStep,
    writer: BatchWriter,
    dead_letter_record: Callable[[EventT, str, BaseException], Outgoing],
    service: str,
) -> BatchStep:
    """``step`` on a batch, or, when it fails other than the broker's way, on each input.

    Such a failure (a record too large to write, a bug) belongs to one input that cannot
    be told from the rest, so the batch is taken again one input at a time: the others go
    through (what they already sent is sent again, with the same ids) and the input that
    still fails is dead-lettered with its reason. A broker that stayed away
    (``DependencyFailed``) ends the batch uncommitted, as ``guarded_batch`` does.
    """

    async def run(events: list[EventT]) -> None:
        try:
            await step(events)
        except DependencyFailed:
            raise
        except Exception as exc:
            if len(events) > 1:
                log.warning(f"{service}.batch_split", messages=len(events), error=repr(exc))
                for event in events:
                    await run([event])
                return
            message = events[0].message
            log.error("message.handler_failed", exc_info=exc, offset=message.offset)
            record = dead_letter_record(events[0], classify(exc), exc)
            await writer.send_together([record], partition=message.partition, offset=message.offset)

    return run
