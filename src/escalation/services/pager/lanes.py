"""One lane per target: its own queue and workers, so a dead receiver stalls only its pages.

The agent that reads ``pages.v1`` never waits for a receiver: it records each (page,
target) as pending in the pager's table (the durable hand-off: the changelog write is
flushed before the input's offset is committed) and offers it to the target's lane.
A lane runs ``concurrency`` deliveries at once, retries included, and holds at most
``capacity`` waiting pages; when it is full, ``offer`` says no and the page falls back
at once instead of holding up the agent (a receiver slower than the page rate must not
slow the others). A crash loses only what is in memory: the pending records bring every
unfinished delivery back into its lane after recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from escalation.schemas import PageRequest

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Job:
    """One page for one target: what a lane delivers and what its outcome names."""

    page: PageRequest
    target: str
    partition: int
    started: float
    """Unix seconds when the delivery began (the pending record's time): the deadline's start."""
    fallback_for: str | None = None

    @property
    def key(self) -> bytes:
        return f"{self.page.page_id}|{self.target}".encode()


Run = Callable[[Job], Awaitable[None]]


class Lane:
    def __init__(self, target: str, capacity: int, concurrency: int, run: Run) -> None:
        self.target = target
        self.queue: asyncio.Queue[Job] = asyncio.Queue(capacity)
        self.keys: set[bytes] = set()
        self.busy = 0
        self.run = run
        self.revoked: set[int] = set()
        self.workers = [asyncio.ensure_future(self._work()) for _ in range(concurrency)]

    @property
    def backlog(self) -> int:
        return self.queue.qsize() + self.busy

    def offer(self, job: Job) -> bool:
        """Queue ``job`` unless the lane is full; a job already here counts as taken."""
        if job.key in self.keys:
            return True
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        self.keys.add(job.key)
        self.revoked.discard(job.partition)
        return True

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            if job.partition in self.revoked:
                self.keys.discard(job.key)  # another worker owns it now, and its record
                continue
            self.busy += 1
            try:
                await self.run(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The pending record stays: the delivery comes back after a restart.
                log.exception("pager.lane_failed", target=self.target, page_id=job.page.page_id)
            finally:
                self.busy -= 1
                self.keys.discard(job.key)

    async def stop(self) -> None:
        for worker in self.workers:
            worker.cancel()
        for worker in self.workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker


class Lanes:
    """The lanes of every target, made on first use and stopped with the pager."""

    def __init__(self, capacity: int, concurrency: int, run: Run) -> None:
        self.capacity = capacity
        self.concurrency = concurrency
        self.run = run
        self.lanes: dict[str, Lane] = {}

    def lane(self, target: str) -> Lane:
        if target not in self.lanes:
            self.lanes[target] = Lane(target, self.capacity, self.concurrency, self.run)
        return self.lanes[target]

    def offer(self, job: Job) -> bool:
        return self.lane(job.target).offer(job)

    def revoke(self, partitions: set[int]) -> None:
        """Queued jobs of partitions this worker lost are skipped, not delivered twice."""
        for lane in self.lanes.values():
            lane.revoked |= partitions

    async def stop(self) -> None:
        for lane in list(self.lanes.values()):
            await lane.stop()
        self.lanes.clear()
