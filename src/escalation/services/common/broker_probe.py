"""Is the broker reachable from here? A metadata request every ``interval`` seconds.

Clients retry a broker that went away for a long while without saying so: the services
keep running, their queues fill, and nothing is logged until a write's retries give up.
The probe answers ``escalation_broker_up`` for the alert that names the broker as the
cause instead of every symptom downstream of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import mode
import structlog
from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

log = structlog.get_logger(__name__)

Probe = Callable[[], Awaitable[object]]


def metadata_probe(kafka_options: dict[str, Any]) -> Probe:
    """One bootstrap (a metadata request) through a client of its own, then closed."""

    async def probe() -> None:
        client = AIOKafkaClient(**kafka_options)
        try:
            await client.bootstrap()
        finally:
            await client.close()

    return probe


async def watch_broker(
    probe: Probe, up: Gauge, stop: asyncio.Event, interval: float = 15.0
) -> None:
    """Set ``up`` to 1 or 0 after each probe until ``stop``; logs each change once.

    A probe gets at most ``interval`` seconds (or 10) to answer."""
    last: bool | None = None
    while not stop.is_set():
        try:
            await asyncio.wait_for(probe(), min(interval, 10.0))
            now_up = True
        except (KafkaError, OSError, TimeoutError) as exc:
            now_up = False
            if last is not False:
                log.warning("broker.unreachable", error=repr(exc))
        if now_up and last is False:
            log.info("broker.reachable")
        up.set(1 if now_up else 0)
        last = now_up
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


class BrokerWatch(mode.Service):
    """``watch_broker`` as a faust worker's service: started with it, stopped with it."""

    def __init__(self, probe: Probe, up: Gauge, interval: float) -> None:
        super().__init__()
        self.probe, self.up, self.interval = probe, up, interval
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        self.task = asyncio.ensure_future(
            watch_broker(self.probe, self.up, self.stopping, self.interval)
        )

    async def on_stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
