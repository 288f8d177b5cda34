"""The stream pipeline as separate processes on one broker, for tests that crash one of them.

``escalation up`` supervises its children and restarts them; a crash test needs to start
one service with a crash point armed, see it die, and start it again without, so each
service here is its own ``Service``: router, escalator, pager and the page sink. Also:
a producer thread that keeps traffic flowing while a service dies, and readers that
take a topic's end from the Fetch high watermark (the embedded broker's ListOffsets
answer reads low, docs/broker.md).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.types import TP

from escalation.services.common.broker import free_port
from escalation.services.common.transports import fetched_highwaters
from escalation.services.pager.signing import new_secret

from .stack import EXAMPLE_POLICY, Service

STREAM_SERVICES = ("router", "escalator", "pager")

Record = tuple[bytes, bytes, str]
"""(key, value, event id) of one record to produce."""


@dataclass
class Pipeline:
    """Sink, router, escalator and pager on ``bootstrap``, each its own process."""

    bootstrap: str
    workdir: Path
    partitions: int = 2
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from escalation.cli.up import child_env  # the environment `escalation up` gives

        ports = {name: free_port() for name in ("intake", "sink", *STREAM_SERVICES)}
        common = child_env(
            ports, EXAMPLE_POLICY, self.bootstrap, self.workdir, new_secret(), self.partitions
        )
        for name in ("sink", *STREAM_SERVICES):
            env = {**common, "ESCALATION_DATA_DIR": str(self.workdir / name)}
            self.services[name] = Service(name, env, ports[name], self.workdir / f"{name}.log")

    @property
    def sink(self) -> str:
        return f"http://127.0.0.1:{self.services['sink'].port}"

    def start(self, crash_at: str | None = None, limit: float = 90.0) -> Pipeline:
        """Start every service side by side; ``crash_at`` arms its point in its service."""
        if crash_at is not None:
            owner = crash_at.split(".", 1)[0]
            self.services[owner].env["ESCALATION_CRASH_AT"] = crash_at
        for service in self.services.values():
            service.launch()
        for service in self.services.values():
            service.wait_ready(limit)
        return self

    def restart_without_crash_point(self, name: str, limit: float = 90.0) -> Service:
        service = self.services[name]
        service.env.pop("ESCALATION_CRASH_AT", None)
        return service.start(limit)

    def stop(self) -> None:
        for name in (*reversed(STREAM_SERVICES), "sink"):
            self.services[name].stop()


class Traffic(threading.Thread):
    """Produces ``records`` in chunks, each acknowledged before the next, on its own loop."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        records: list[Record],
        chunk: int = 20,
        pause: float = 0.05,
    ) -> None:
        super().__init__(name="traffic", daemon=True)
        self.bootstrap, self.topic, self.records = bootstrap, topic, records
        self.chunk, self.pause = chunk, pause
        self.sent = 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._produce())
        except Exception as exc:  # noqa: BLE001 - reported by finish(), in the test thread
            self.error = exc

    async def _produce(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            for start in range(0, len(self.records), self.chunk):
                futures = [
                    await producer.send(self.topic, value, key=key, headers=[("event-id", ident)])
                    for key, value, ident in self._encoded(start)
                ]
                await asyncio.gather(*futures)
                self.sent += len(futures)
                await asyncio.sleep(self.pause)  # pacing, so a crash lands mid-stream
        finally:
            await producer.stop()

    def _encoded(self, start: int) -> list[tuple[bytes, bytes, bytes]]:
        return [(k, v, i.encode()) for k, v, i in self.records[start : start + self.chunk]]

    def finish(self, limit: float = 60.0) -> None:
        self.join(limit)
        if self.is_alive():
            raise AssertionError(f"traffic still producing after {limit:.0f}s")
        if self.error is not None:
            raise AssertionError(f"traffic failed: {self.error!r}") from self.error


async def _ends(bootstrap: str, topic: str, partitions: int) -> dict[TopicPartition, int]:
    tps = [TP(topic, p) for p in range(partitions)]
    ends = await fetched_highwaters(bootstrap, tps, {})
    return {TopicPartition(tp.topic, tp.partition): end for tp, end in ends.items()}


async def read_topic(
    bootstrap: str, topic: str, partitions: int, limit: float = 30.0
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` from the start up to its end as fetched now."""
    ends = await _ends(bootstrap, topic, partitions)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        deadline = asyncio.get_running_loop().time() + limit
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"could not read {topic} to its end in {limit:.0f}s")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def behind(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, str]:
    """Partitions of ``topic`` where ``group`` has not committed every record existing now."""
    ends = await _ends(bootstrap, topic, partitions)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        lagging = {}
        for tp, end in ends.items():
            committed = await consumer.committed(tp)
            if end and (committed is None or committed < end):
                lagging[tp.partition] = f"committed {committed}, end {end}"
        return lagging
    finally:
        await consumer.stop()
