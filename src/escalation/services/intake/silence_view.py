"""Intake's view of the silences on ``escalation.controls.v1``, for the silences API.

Intake reads the controls topic whole, from the beginning of every partition and
outside any consumer group, and keeps the latest record of each silence id: the same
rule the escalator's workers follow, so ``GET /v1/silences`` lists what they hold back
pages for. Entries of other kinds (surges) share the topic and are skipped here.

A silence intake has just written is applied to the view at once as well, so a client
that creates a silence and lists them straight after sees it, before the reader has
read it back. The view is ready once it has read every partition up to the high
watermark it found when it started (the Fetch's, which the embedded broker reports
right, unlike its ListOffsets: docs/broker.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from escalation.schemas import codec
from escalation.schemas.silence import SilenceRecord
from escalation.services.common.topics import CONTROLS

log = structlog.get_logger(__name__)

RETRY_SECONDS = 1.0


class SilenceView:
    """The latest record of every silence id; pure, so tests need no broker."""

    def __init__(self) -> None:
        self.records: dict[str, SilenceRecord] = {}
        self.ready = False

    def apply(self, record: SilenceRecord) -> None:
        """Keep the later of two records of one id (a replayed older one changes nothing)."""
        known = self.records.get(record.id)
        if known is None or (record.at, not record.active) >= (known.at, not known.active):
            self.records[record.id] = record

    def get(self, silence_id: str) -> SilenceRecord | None:
        return self.records.get(silence_id)

    def listed(self, now: datetime, expired: bool = False) -> list[SilenceRecord]:
        """Silences in force or still to come, soonest ending first; ``expired`` adds the rest."""
        found = [
            r for r in self.records.values() if expired or (r.active and r.silence.ends_at > now)
        ]
        return sorted(found, key=lambda r: (r.silence.ends_at, r.id))


def silence_of(value: bytes | None) -> SilenceRecord | None:
    """A silence record, or None for another kind of control (or a record to skip)."""
    if not value:
        return None
    try:
        plain = codec.loads_plain(value)
    except ValueError:
        log.error("intake.control_unreadable", error="not JSON")
        return None
    if not isinstance(plain, dict) or plain.get("kind") != "silence":
        return None
    try:
        return codec.decode_silence_record(value)
    except codec.DecodeError as exc:
        log.error("intake.control_unreadable", error=exc.detail)
        return None


async def read_controls(
    view: SilenceView,
    reader_options: dict[str, Any],
    stop: asyncio.Event,
    make: Callable[..., AIOKafkaConsumer] = AIOKafkaConsumer,
) -> None:
    """Read the controls topic into ``view`` until ``stop``; reconnect when the broker fails."""
    while not stop.is_set():
        consumer = make(**reader_options)
        try:
            await consumer.start()
            partitions = consumer.partitions_for_topic(CONTROLS) or set()
            assigned = [TopicPartition(CONTROLS, p) for p in sorted(partitions)]
            if not assigned:
                raise KafkaError(f"topic {CONTROLS} has no partitions yet")
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            view.records.clear()  # read again from the start: a full, consistent view
            await _follow(view, consumer, assigned, stop)
        except KafkaError as exc:
            log.warning("intake.controls_unavailable", error=repr(exc))
            view.ready = False
            await _sleep(stop, RETRY_SECONDS)
        except Exception:  # a bug here must not leave the silences API unready for good
            log.exception("intake.controls_reader_failed")
            view.ready = False
            await _sleep(stop, RETRY_SECONDS)
        finally:
            await consumer.stop()


async def _follow(
    view: SilenceView,
    consumer: AIOKafkaConsumer,
    assigned: list[TopicPartition],
    stop: asyncio.Event,
) -> None:
    start_marks: dict[TopicPartition, int] | None = None
    while not stop.is_set():
        batches = await consumer.getmany(*assigned, timeout_ms=500)
        for records in batches.values():
            for message in records:
                record = silence_of(message.value)
                if record is not None:
                    view.apply(record)
        if not view.ready:
            start_marks = start_marks or await _marks(consumer, assigned)
            if start_marks is not None and await _reached(consumer, start_marks):
                view.ready = True
                log.info("intake.silences_read", silences=len(view.records))


async def _marks(
    consumer: AIOKafkaConsumer, assigned: list[TopicPartition]
) -> dict[TopicPartition, int] | None:
    """The high watermark of every partition, once a fetch has reported each."""
    marks = {tp: consumer.highwater(tp) for tp in assigned}
    if any(mark is None for mark in marks.values()):
        return None
    return {tp: int(mark) for tp, mark in marks.items() if mark is not None}


async def _reached(consumer: AIOKafkaConsumer, marks: dict[TopicPartition, int]) -> bool:
    for tp, mark in marks.items():
        if await consumer.position(tp) < mark:
            return False
    return True


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
