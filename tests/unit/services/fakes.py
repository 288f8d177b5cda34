"""A fake aiokafka producer for the batch loops: record batches that fail as scripted."""

from __future__ import annotations

import asyncio
from typing import Any


class FakeBuilder:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[dict[str, Any]] = []

    def close(self) -> None:
        pass

    def append(self, **record: Any) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append(record)
        return object()


class FakeProducer:
    """``send_batch`` answers with the next scripted failure, else writes the batch.

    ``failures`` holds, per call, an exception for the batch's future (the broker did
    not acknowledge) or None (written); ``down`` fails every send until cleared.
    """

    def __init__(self, *failures: BaseException | None, capacity: int = 1000) -> None:
        self.failures = list(failures)
        self.capacity = capacity
        self.down: BaseException | None = None
        self.written: list[tuple[str, int, list[dict[str, Any]]]] = []
        self.sends = 0

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder(self.capacity)

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> Any:
        self.sends += 1
        future = asyncio.get_running_loop().create_future()
        failure = self.down or (self.failures.pop(0) if self.failures else None)
        if failure is not None:
            future.set_exception(failure)
        else:
            self.written.append((topic, partition, builder.records))
            future.set_result(None)
        return future

    def values(self, topic: str) -> list[bytes]:
        return [r["value"] for t, _, records in self.written if t == topic for r in records]
