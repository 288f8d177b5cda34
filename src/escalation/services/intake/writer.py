"""Writes to the event log within a deadline: a broker that does not answer is a 503.

aiokafka waits for a paused or partitioned broker as long as its own request timeout
(40 s by default) and longer while it retries; an HTTP client would see a hang. Intake
gives up after ``intake_broker_deadline_seconds`` and answers 503 with Retry-After. A
record already handed to the producer may still be written after that answer: the
sender's retry then carries the same event id, which every consumer deduplicates, and
an acknowledgement that arrives late marks the id as known so intake itself reports
the retry as a duplicate.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from aiokafka.errors import KafkaError

from escalation.services.common.problems import Problem

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes
    event_id: str
    """Sent as the ``event-id`` header, by which consumers deduplicate."""


class Writer:
    """Sends records and waits for the broker's acknowledgements, at most ``deadline`` s."""

    def __init__(self, producer: Any, deadline: float) -> None:
        self.producer = producer
        self.deadline = deadline
        self.retry_after = str(max(1, math.ceil(deadline)))
        self.connected = False
        """Set once the producer has started: until then every write is a 503."""

    def unavailable(self, detail: str) -> Problem:
        return Problem(503, "broker-unavailable", detail, headers={"retry-after": self.retry_after})

    async def write(
        self, records: Sequence[Record], on_written: Callable[[str], None] | None = None
    ) -> None:
        """Return once every record is acknowledged; raise a 503 Problem otherwise.

        ``on_written`` is called with the event id of a record whose acknowledgement
        arrives after the 503 was decided (a write that landed all the same).
        """
        if not self.connected:
            raise self.unavailable(
                "intake is not connected to the event log yet; retry after the delay given"
            )
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self.deadline):
                for record in records:
                    futures.append(
                        await self.producer.send(
                            record.topic,
                            record.value,
                            key=record.key,
                            headers=[("event-id", record.event_id.encode())],
                        )
                    )
                if futures:
                    await asyncio.wait(futures)  # never cancels them: they may still land
        except TimeoutError as exc:
            self._settle_later(records, futures, on_written)
            log.warning("intake.broker_deadline", deadline=self.deadline, records=len(records))
            raise self.unavailable(
                f"the event log did not acknowledge within {self.deadline:g}s; "
                "retrying the same request is safe: event ids are deduplicated"
            ) from exc
        except KafkaError as exc:
            self._settle_later(records, futures, on_written)
            log.warning("intake.broker_unavailable", error=repr(exc))
            raise self.unavailable(
                "the event log did not accept the write; retrying the same request is safe"
            ) from exc
        failures = [
            RuntimeError("write cancelled") if f.cancelled() else f.exception()
            for f in futures
            if f.cancelled() or f.exception() is not None
        ]
        if failures:
            self._settle_later(records, futures, on_written)
            log.warning("intake.broker_unavailable", error=repr(failures[0]))
            raise self.unavailable(
                "the event log did not accept the write; retrying the same request is safe"
            ) from failures[0]

    def _settle_later(
        self,
        records: Sequence[Record],
        futures: Sequence[asyncio.Future[Any]],
        on_written: Callable[[str], None] | None,
    ) -> None:
        for record, future in zip(records, futures, strict=False):
            future.add_done_callback(partial(_settled, record.event_id, on_written))


def _settled(
    event_id: str, on_written: Callable[[str], None] | None, future: asyncio.Future[Any]
) -> None:
    # Reading the exception also keeps asyncio from logging it as never retrieved.
    if future.cancelled() or future.exception() is not None:
        return
    if on_written is not None:
        on_written(event_id)
